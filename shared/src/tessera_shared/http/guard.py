"""The edge of every process (services and gateway): what is refused before any route runs,
and the headers every answer carries.

- **Paths that could be read two ways** are refused with 404 ``not-found`` (``field: path``):
  a dot segment (``.`` or ``..``, also encoded as ``%2e``), an encoded slash or backslash
  (``%2F``, ``%5C``) or a backslash. A router matches the decoded path while an upstream (or
  an HTTP client that removes dot segments) may resolve it to another resource, so such a
  path names no resource of this API. ASGI's ``path`` is already percent-decoded; the
  encoded slashes are only visible in ``raw_path``.
- **Request headers** larger than ``max_header_bytes`` in total (names, values and the
  ``: `` and CRLF of each line) get 431 ``request-header-fields-too-large``.
- **Every response** carries ``X-Content-Type-Options: nosniff``; every response under
  ``/v1/``, ``/api/v1/`` and ``/auth/`` (the authenticated API and the token endpoint, where
  personal data and tokens are) carries ``Cache-Control: no-store``, replacing what the route
  set, unless the route declared its answer ``public`` (the event schemas, public contract
  that holds no personal data). A client still revalidates what it holds with ``If-None-Match``: ``no-store`` keeps
  shared and disk caches from storing the answer, it does not stop conditional requests.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tessera_shared.http.errors import problem_response

DEFAULT_MAX_HEADER_BYTES = 16 * 1024
NO_STORE_PREFIXES = ("/v1/", "/api/v1/", "/auth/")
_ENCODED_SEPARATORS = (b"%2f", b"%5c")
_NOSNIFF = (b"x-content-type-options", b"nosniff")
_NO_STORE = (b"cache-control", b"no-store")


def ambiguous_path(scope: Scope) -> bool:
    """True for a path with a dot segment, an encoded slash or backslash, or a backslash."""
    path: str = scope["path"]
    if "\\" in path:
        return True
    if any(segment in (".", "..") for segment in path.split("/")):
        return True
    raw = scope.get("raw_path")
    if raw:
        # uvicorn's raw_path has no query string; httpx's ASGI transport adds it.
        raw = raw.split(b"?", 1)[0].lower()
        return any(sep in raw for sep in _ENCODED_SEPARATORS)
    return False


def header_bytes(scope: Scope) -> int:
    return sum(len(name) + len(value) + 4 for name, value in scope["headers"])


class EdgeGuardMiddleware:
    """Pure ASGI; sits inside the request context (so refusals carry the request id)."""

    def __init__(self, app: ASGIApp, max_header_bytes: int = DEFAULT_MAX_HEADER_BYTES) -> None:
        self.app = app
        self.max_header_bytes = max_header_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        no_store = scope["path"].startswith(NO_STORE_PREFIXES)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                # A route that declares its answer public (the event schemas) keeps its caching;
                # anything else under the API is no-store, whatever the route set.
                shared = any(k.lower() == b"cache-control" and b"public" in v.lower() for k, v in headers)
                if no_store and not shared:
                    headers = [(k, v) for k, v in headers if k.lower() != b"cache-control"]
                    headers.append(_NO_STORE)
                if not any(k.lower() == _NOSNIFF[0] for k, _ in headers):
                    headers.append(_NOSNIFF)
                message["headers"] = headers
            await send(message)

        size = header_bytes(scope)
        if size > self.max_header_bytes:
            response = problem_response(
                431,
                slug="request-header-fields-too-large",
                detail=f"request headers of {size} bytes exceed the limit of {self.max_header_bytes} bytes",
                field="headers",
            )
            await response(scope, receive, send_with_headers)
            return
        if ambiguous_path(scope):
            response = problem_response(
                404,
                detail="a path with dot segments, encoded slashes or backslashes names no resource",
                field="path",
            )
            await response(scope, receive, send_with_headers)
            return
        await self.app(scope, receive, send_with_headers)
