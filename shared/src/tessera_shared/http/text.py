"""Refuse the NUL character (U+0000) in text input, with a 422 naming the field.

PostgreSQL text cannot hold U+0000: a NUL that reaches a query is a database error (a 500),
whichever column or filter it was meant for, while SQLite stores it. No field of this API has
a use for it, so it is refused at the edge, once for every service, before any route runs:
in the path, the query string, and JSON, NDJSON and form bodies.

Cheap when there is nothing to find: a body is only parsed when its raw bytes contain the
escape (``\\u0000`` in JSON, ``%00`` in a form), and the query string only when it has ``%00``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

import orjson
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tessera_shared.errors import field_error, invalid_input_detail
from tessera_shared.http.errors import problem_response

NUL = "\x00"
MESSAGE = "text may not contain the NUL character (U+0000)"
_JSON_ESCAPE = b"\\u0000"
_URL_ESCAPE = b"%00"
_LINE_TYPES = ("ndjson", "jsonl", "jsonlines")


def _json_field(value: Any, path: tuple[str, ...] = ()) -> str | None:
    """Dotted path of the first key or string value holding a NUL ("body" for the top level)."""
    if isinstance(value, str):
        return (".".join(path) or "body") if NUL in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            if NUL in key:
                return ".".join((*path, key.replace(NUL, "\\u0000")))
            found = _json_field(item, (*path, key))
            if found:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = _json_field(item, (*path, str(index)))
            if found:
                return found
    return None


def _form_field(raw: str) -> str | None:
    for key, value in parse_qsl(raw, keep_blank_values=True):
        if NUL in key or NUL in value:
            return key.replace(NUL, "\\u0000")
    return None


def _body_field(body: bytes, content_type: str) -> str | None:
    if "json" in content_type:
        if _JSON_ESCAPE not in body:
            return None
        if not any(kind in content_type for kind in _LINE_TYPES):
            try:
                return _json_field(orjson.loads(body))
            except orjson.JSONDecodeError:
                return None  # malformed JSON is the route's to report
            except RecursionError:
                return "body"  # a NUL somewhere in JSON nested too deeply to say where
        # NDJSON: one document a line.
        for number, line in enumerate(body.splitlines(), start=1):
            if _JSON_ESCAPE in line:
                try:
                    found = _json_field(orjson.loads(line))
                except orjson.JSONDecodeError:
                    continue
                except RecursionError:
                    found = "body"
                if found:
                    return f"line {number}" if found == "body" else f"line {number}.{found}"
        return None
    if content_type.startswith("application/x-www-form-urlencoded") and _URL_ESCAPE in body:
        return _form_field(body.decode("latin-1"))
    return None


class RejectNulMiddleware:
    """Must sit inside the body size limit, so that it never buffers more than the limit."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if NUL in scope["path"]:
            await self._reject(scope, receive, send, "path", "path")
            return
        query = scope.get("query_string", b"")
        if _URL_ESCAPE in query or b"\x00" in query:
            field = _form_field(query.decode("latin-1"))
            if field is not None:
                await self._reject(scope, receive, send, field, "query")
                return
        content_type = dict(scope["headers"]).get(b"content-type", b"").decode("latin-1").lower()
        if "json" not in content_type and not content_type.startswith("application/x-www-form-urlencoded"):
            await self.app(scope, receive, send)
            return

        chunks: list[bytes] = []
        pending: Message | None = None
        try:
            while True:
                message = await receive()
                if message["type"] != "http.request":
                    pending = message
                    break
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    break
        except HTTPException as exc:  # the body size limit, raised while reading
            response = problem_response(
                exc.status_code, detail=str(exc.detail), instance=scope.get("path"), field="body"
            )
            await response(scope, receive, send)
            return
        body = b"".join(chunks)
        field = _body_field(body, content_type)
        if field is not None:
            await self._reject(scope, receive, send, field, "body")
            return

        replayed = False

        async def replay() -> Message:
            nonlocal replayed, pending
            if not replayed:
                replayed = True
                if pending is not None and not chunks:
                    message, pending = pending, None
                    return message
                return {"type": "http.request", "body": body, "more_body": False}
            if pending is not None:
                message, pending = pending, None
                return message
            return await receive()

        await self.app(scope, replay, send)

    @staticmethod
    async def _reject(scope: Scope, receive: Receive, send: Send, field: str, location: str) -> None:
        response = problem_response(
            422,
            detail=invalid_input_detail([field]),
            instance=scope.get("path"),
            errors=[field_error(field, MESSAGE, location)],
        )
        await response(scope, receive, send)
