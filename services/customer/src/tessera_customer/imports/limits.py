"""A larger request-body limit for the bulk import route only; every other route keeps the
service-wide limit of the shared BodySizeLimitMiddleware."""

from __future__ import annotations

from fastapi import FastAPI
from starlette.middleware import Middleware
from starlette.types import ASGIApp, Receive, Scope, Send

from tessera_shared.http.limits import BodySizeLimitMiddleware


class RouteBodySizeLimit:
    def __init__(self, app: ASGIApp, max_bytes: int, routes: dict[tuple[str, str], int]) -> None:
        self.default = BodySizeLimitMiddleware(app, max_bytes)
        self.routes = {route: BodySizeLimitMiddleware(app, limit) for route, limit in routes.items()}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        limited = self.routes.get((scope.get("method", ""), scope.get("path", ""))) if scope["type"] == "http" else None
        await (limited or self.default)(scope, receive, send)


def allow_larger_bodies(app: FastAPI, routes: dict[tuple[str, str], int]) -> None:
    """Swap the app's body limit for one that knows ``routes`` (before the app first runs)."""
    for i, middleware in enumerate(app.user_middleware):
        if middleware.cls is BodySizeLimitMiddleware:
            app.user_middleware[i] = Middleware(RouteBodySizeLimit, max_bytes=middleware.kwargs["max_bytes"],
                                                routes=routes)
            return
    raise RuntimeError("the shared body-size limit is not installed")
