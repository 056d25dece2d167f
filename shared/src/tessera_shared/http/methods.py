"""405 with the right ``Allow`` for a method a path does not serve, read from the OpenAPI document.

The router alone gets this wrong twice: its 405 names the methods of the first route that
matched the path (``POST`` for ``/v1/customers``, which also serves ``GET``), and a method a
literal path lacks falls through to a parameterised sibling (``PATCH /v1/customers/duplicates``
reached ``PATCH /v1/customers/{customer_id}`` and answered 422). Here the request's path is
matched against the document's path templates, literal segments before parameters (the most
specific template wins, as a reader of the document would expect); a method that template does
not declare is a 405 whose ``Allow`` lists the ones it does (FastAPI serves no ``HEAD``, so
neither is it listed; a ``HEAD`` is a 405 too). Paths the
document does not know pass through untouched. The gateway gives its merged document, so it
answers for the services' paths too (a forwarded path with an undeclared method never leaves
the gateway).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from fastapi import routing
from fastapi.routing import APIRoute
from starlette.routing import compile_path
from starlette.types import ASGIApp, Receive, Scope, Send

from tessera_shared.http.errors import problem_response

METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


class _Node:
    __slots__ = ("literal", "methods", "param")

    def __init__(self) -> None:
        self.literal: dict[str, _Node] = {}
        self.param: _Node | None = None
        self.methods: frozenset[str] | None = None


def _api_routes(routes: Any, context: Any = None) -> Iterator[tuple[APIRoute, Any]]:
    """Each APIRoute of ``routes`` with the include context it is served under (None at the top),
    combined through nested routers as FastAPI combines them."""
    for route in routes:
        if isinstance(route, routing._IncludedRouter):
            inner = route.include_context if context is None else context.combine(route.include_context)
            yield from _api_routes(route.original_router.routes, inner)
        elif isinstance(route, APIRoute):
            yield route, context


def route_paths(app: Any) -> dict[str, list[str]]:
    """The documented paths of an app's routes and their methods (what its OpenAPI document
    lists, without building the document).

    Read from the routes as declared and their routers' include contexts (prefix, whether in the
    schema), not through ``routing.iter_route_contexts``: that builds every route's effective
    state (its dependency tree, a pydantic adapter per parameter: 50-90 ms of CPU for a service's
    routes), which the router otherwise builds only for the routers a request passes through."""
    paths: dict[str, list[str]] = {}
    for route, context in _api_routes(app.routes):
        in_schema = route.include_in_schema and (context is None or context.include_in_schema)
        if in_schema:
            path = route.path if context is None else context.path_for(route)
            paths.setdefault(compile_path(path)[1], []).extend(m.lower() for m in route.methods or ())
    return paths


class MethodTable:
    """Path templates of an OpenAPI document and the methods each declares."""

    def __init__(self, paths: dict[str, Any]) -> None:
        self.root = _Node()
        for template, operations in paths.items():
            methods = {m.upper() for m in operations if m in METHODS}
            if not methods:
                continue
            node = self.root
            for segment in template.strip("/").split("/"):
                if segment.startswith("{") and segment.endswith("}") and ":" not in segment:
                    node.param = node.param or _Node()
                    node = node.param
                else:
                    node = node.literal.setdefault(segment, _Node())
            node.methods = frozenset(methods) | (node.methods or frozenset())

    def allowed(self, path: str) -> frozenset[str] | None:
        """The methods of the most specific template matching ``path``; None when none does."""
        return _find(self.root, path.strip("/").split("/"), 0)


def _find(node: _Node, segments: list[str], i: int) -> frozenset[str] | None:
    if i == len(segments):
        return node.methods
    segment = segments[i]
    child = node.literal.get(segment)
    if child is not None and (found := _find(child, segments, i + 1)) is not None:
        return found  # a literal segment first: the most specific template wins
    if node.param is not None and segment:
        return _find(node.param, segments, i + 1)
    return None


def allow_header(methods: frozenset[str]) -> str:
    order = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"]
    return ", ".join(m for m in order if m in methods)


class MethodNotAllowedMiddleware:
    """A 405 (problem+json, with ``Allow``) for a method the document does not declare on a path.

    ``paths`` gives the document's ``paths`` (or path -> methods); the table is rebuilt when it
    returns another object (the gateway's merged document is refreshed in the background)."""

    def __init__(self, app: ASGIApp, paths: Callable[[], dict[str, Any]]) -> None:
        self.app = app
        self.paths = paths
        self._source: dict[str, Any] | None = None
        self._table: MethodTable | None = None

    def table(self) -> MethodTable:
        paths = self.paths()
        if paths is not self._source or self._table is None:
            self._table = MethodTable(paths)
            self._source = paths
        return self._table

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            allowed = self.table().allowed(scope["path"])
            if allowed is not None and scope["method"] not in allowed:
                response = problem_response(
                    405,
                    detail=f"{scope['method']} is not allowed here; allowed: {allow_header(allowed)}",
                    instance=scope["path"],
                    headers={"Allow": allow_header(allowed)},
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
