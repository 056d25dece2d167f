"""Composition root of the gateway: tokens, forwarding and (later) the composed views."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fastapi import FastAPI

from tessera_gateway.auth.accounts import AccountDirectory
from tessera_gateway.auth.router import router as auth_router
from tessera_gateway.proxy.router import router as proxy_router
from tessera_gateway.settings import GatewaySettings
from tessera_shared.app import build_app


def create_app(
    settings: GatewaySettings | None = None, *, mounts: dict[str, httpx.AsyncBaseTransport] | None = None
) -> FastAPI:
    """``mounts`` lets tests route an upstream URL to an in-process app."""
    settings = settings or GatewaySettings()
    upstreams = {
        "customer": settings.customer_url.rstrip("/"),
        "sales": settings.sales_url.rstrip("/"),
        "service-desk": settings.service_desk_url.rstrip("/"),
        "billing": settings.billing_url.rstrip("/"),
    }

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.accounts = await asyncio.to_thread(
            AccountDirectory.from_settings, settings.accounts_json, local=settings.is_local
        )
        timeout = httpx.Timeout(settings.upstream_timeout, connect=settings.upstream_connect_timeout)
        limits = httpx.Limits(max_connections=settings.upstream_max_connections,
                              max_keepalive_connections=settings.upstream_max_connections)
        async with httpx.AsyncClient(timeout=timeout, limits=limits, mounts=mounts) as client:
            app.state.http = client
            yield

    async def readiness() -> tuple[bool, dict[str, Any]]:
        async def probe(url: str) -> bool:
            try:
                r = await app.state.http.get(f"{url}/readyz", timeout=2.0)
                return r.status_code == 200
            except (httpx.HTTPError, AttributeError):
                return False

        results = await asyncio.gather(*(probe(u) for u in upstreams.values()))
        checks = dict(zip(upstreams, results, strict=True))
        # The gateway itself can serve (tokens, partial views) with a service down.
        return hasattr(app.state, "http"), {"upstreams": checks}

    app = build_app(
        name="gateway",
        title="Tessera CRM API",
        description="One authenticated API for frontends: tokens, every service's resources under /api/v1.",
        settings=settings,
        lifespan=lifespan,
        readiness=readiness,
    )
    app.state.upstreams = upstreams
    app.include_router(auth_router)
    app.include_router(proxy_router)
    return app
