"""The forwarding hop's fast path: a plain forwarded ``GET /api/v1/<segment>/...`` without
FastAPI's router, dependency solving and the ten middlewares each of which looks at it once.

What a forwarded GET costs the gateway is mostly the machinery around the call, not the call:
the catch-all ``/api/v1/{path:path}`` is matched after every route of the gateway's own, its
dependencies (the bearer scheme, the principal, the query check) are solved per request, and
each pure-ASGI middleware wraps ``send`` for a request none of them changes. Here such a request
is recognised by its first path segment (a resource an upstream owns, ``proxy/routes.py``) and,
after a check that none of the gateway's own routes would answer it (derived once from the
app's routes), is served by the same steps as ``forward_to_owner``:

- the principal by ``principal_from_request`` (token verification and its cache, revocation,
  API keys, the team-scope header), the limit by ``take_for``, the call by ``forward`` (the
  same headers, upstream pool, retries and problems), the audit row by ``audit.record``;
- the request id, trace context, server span and metrics by the same
  ``RequestContextMiddleware`` (one instance, around this path only);
- ``Cache-Control: no-store``, ``X-Content-Type-Options: nosniff`` (``EdgeGuardMiddleware``)
  and the RateLimit fields (``RateLimitHeaders``) put on the answer in one ``send``;
- a problem raised after the request was counted is answered by the app's own exception
  handler (RFC 9457, the gateway's path as ``instance``), as ``ExceptionMiddleware`` would.

Everything else goes the general way, which stays the reference: any method but GET, a body,
an ``Origin`` header (CORS), report paths (renamed query parameters), streams,
exports and custom fields, paths the edge guard or the NUL check refuse, a GET the merged
OpenAPI document does not declare on the path (405), and any request whose principal is
refused (the general path answers the 401 as before; the check is repeated there, it is not
counted twice). ``services/gateway/tests/service/test_fast_path.py`` compares the two.
"""

from __future__ import annotations

import inspect
import re
from typing import Any

from fastapi import routing
from fastapi.routing import APIRoute
from starlette._exception_handler import _lookup_exception_handler
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tessera_gateway.audit import service as audit
from tessera_gateway.limits.rate import take_for, with_limit_fields
from tessera_gateway.proxy import expand
from tessera_gateway.proxy.router import forward
from tessera_gateway.proxy.routes import OWNERS
from tessera_shared.api_keys import SUBJECT_PREFIX as API_KEY_SUBJECT
from tessera_shared.auth import principal_from_request
from tessera_shared.http.guard import _NO_STORE, _NOSNIFF, ambiguous_path, header_bytes
from tessera_shared.http.methods import MethodTable
from tessera_shared.http.renamed import is_report_path
from tessera_shared.observability import RequestContextMiddleware

PREFIX = "/api/v1/"
# Segments whose requests need more than the plain forward (proxy/router.py routes them itself).
SPECIAL = frozenset({"exports", "custom-fields", "reports"})
_CATCH_ALL = "/api/v1/{path:path}"
_CACHE_CONTROL = b"cache-control"


def vary_origin(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """CORSMiddleware's ``Vary`` on an answer to a request without ``Origin``: the values it had
    and ``Origin``, as one field where the first one was (else last)."""
    values = [v for k, v in headers if k == b"vary"]
    joined = (b"vary", b", ".join([*values, b"Origin"]))
    if not values:
        return [*headers, joined]
    out: list[tuple[bytes, bytes]] = []
    for k, v in headers:
        if k != b"vary":
            out.append((k, v))
        elif joined is not None:
            out.append(joined)
            joined = None  # type: ignore[assignment]
    return out


class ForwardFastPath:
    """Pure ASGI, outside the shared middlewares; set up at the first request (the app's routes,
    state and tracer are complete by then)."""

    def __init__(self, app: ASGIApp, max_header_bytes: int, cors: bool = False) -> None:
        self.app = app
        self.max_header_bytes = max_header_bytes
        # With CORSMiddleware installed, an answer to a request without Origin says Vary: Origin.
        self.cors = cors
        self._ready = False
        self._own: dict[str, tuple[re.Pattern[str], ...]] = {}
        self._own_any: tuple[re.Pattern[str], ...] = ()
        self._route: APIRoute | None = None
        self._context: ASGIApp = self.app  # the request context around _serve, once set up
        self._fastapi: Any = None
        self._paths: Any = None
        self._table: MethodTable | None = None
        self.enabled = True  # off: every request goes the general way (tests compare the two)
        self.served = 0  # requests this path answered

    def _setup(self, fastapi_app: Any) -> None:
        """The gateway's own ``/api/v1`` routes by first segment, the catch-all route and the
        request context, from the app itself."""
        own: dict[str, list[re.Pattern[str]]] = {}
        own_any: list[re.Pattern[str]] = []
        for context in routing.iter_route_contexts(fastapi_app.routes):
            route = context.original_route
            path = context.path_format or getattr(route, "path", None)
            if not isinstance(route, APIRoute) or not path or not path.startswith(PREFIX):
                continue
            if route.path == _CATCH_ALL:
                self._route = route
                continue
            first = path[len(PREFIX) :].split("/", 1)[0]
            pattern = re.compile(routing.compile_path(path)[0].pattern)
            (own_any if "{" in first else own.setdefault(first, [])).append(pattern)
        self._own = {segment: tuple(patterns) for segment, patterns in own.items()}
        self._own_any = tuple(own_any)
        self._fastapi = fastapi_app
        fastapi_app.state.forward_fast_path = self
        self._context = RequestContextMiddleware(
            self._serve, service="gateway", tracer=fastapi_app.state.tracer, route_header=False
        )
        self._ready = True

    def _allowed(self, path: str) -> frozenset[str] | None:
        """The methods the merged OpenAPI document declares on ``path`` (MethodNotAllowedMiddleware's table)."""
        paths = self._fastapi.openapi().get("paths", {})
        if paths is not self._paths or self._table is None:
            self._table = MethodTable(paths)
            self._paths = paths
        return self._table.allowed(path)

    def _takes(self, scope: Scope) -> bool:
        """A plain forwarded GET, answered here exactly as the general path would."""
        if scope["method"] != "GET" or self._route is None or not self.enabled:
            return False
        path: str = scope["path"]
        segment = path[len(PREFIX) :].split("/", 1)[0]
        if segment not in OWNERS or segment in SPECIAL or "\x00" in path:
            return False
        if not hasattr(self._fastapi.state, "upstreams"):
            return False  # the lifespan has not run
        query: bytes = scope.get("query_string", b"")
        if query and (b"%00" in query or b"\x00" in query or is_report_path(path)):
            return False
        for name, value in scope["headers"]:
            if name == b"origin" or name == b"transfer-encoding" or (name == b"content-length" and value != b"0"):
                return False
        if header_bytes(scope) > self.max_header_bytes or ambiguous_path(scope):
            return False
        if any(p.match(path) for p in self._own.get(segment, ())) or any(p.match(path) for p in self._own_any):
            return False
        allowed = self._allowed(path)
        return allowed is None or "GET" in allowed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(PREFIX):
            await self.app(scope, receive, send)
            return
        if not self._ready:
            self._setup(scope["app"])
        if not self._takes(scope):
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        try:
            await principal_from_request(request)
        except Exception:
            # Refused (401, a revoked token, an unknown key): the general path answers it.
            scope.get("state", {}).pop("principal", None)
            await self.app(scope, receive, send)
            return
        scope["tessera.fast_request"] = request
        state: dict[str, Any] = scope["state"]

        async def send_with_limits(message: Message) -> None:
            if message["type"] == "http.response.start":
                if self.cors:
                    message["headers"] = vary_origin(message.get("headers", []))
                # RateLimitHeaders: the fields noted on the request, outside the request context.
                message = with_limit_fields(message, state.get("rate_limit_headers"))
            await send(message)

        await self._context(scope, receive, send_with_limits)

    async def _serve(self, scope: Scope, receive: Receive, send: Send) -> None:
        request: Request = scope.pop("tessera.fast_request")
        principal = request.state.principal
        scope["route"] = self._route

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                # EdgeGuardMiddleware: no-store under /api/v1/ unless the answer is public; nosniff.
                if not any(k.lower() == _CACHE_CONTROL and b"public" in v.lower() for k, v in headers):
                    headers = [(k, v) for k, v in headers if k.lower() != _CACHE_CONTROL]
                    headers.append(_NO_STORE)
                if not any(k.lower() == _NOSNIFF[0] for k, _ in headers):
                    headers.append(_NOSNIFF)
                message["headers"] = headers
            await send(message)

        path = scope["path"][len(PREFIX) :]
        try:
            await take_for(request, principal)
            expansion = expand.plan(request, path)  # ?expand= checked here and not forwarded (as the general path)
            response = await forward(request, OWNERS[path.split("/", 1)[0]], path)
            if expansion is not None:
                response = await expansion.embed(request, response)
            if audit.reads_personal_data("GET", path) or principal.subject.startswith(API_KEY_SUBJECT):
                audit.record(self._fastapi.state.runtime, principal, "GET", path, response.status_code)
        except Exception as exc:
            handler = _lookup_exception_handler(self._fastapi.exception_handlers, exc)
            if handler is None or handler is self._fastapi.exception_handlers.get(Exception):
                raise
            answer: Any = handler(request, exc)  # type: ignore[arg-type]  # an HTTP handler
            response = await answer if inspect.isawaitable(answer) else answer
        self.served += 1
        await response(scope, receive, send_with_headers)
