"""Composition root of the gateway: tokens, forwarding, audit and (later) the composed views."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx2
from fastapi import APIRouter, Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from prometheus_client import Gauge
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from tessera_gateway.apikeys.router import router as api_keys_router
from tessera_gateway.apikeys.service import KeyPolicies, follow_api_keys_table
from tessera_gateway.audit.router import router as audit_router
from tessera_gateway.auth.accounts import AccountDirectory
from tessera_gateway.auth.revocation import follow_revocations
from tessera_gateway.auth.revocation import router as revocation_router
from tessera_gateway.auth.router import router as auth_router
from tessera_gateway.auth.throttle import LoginThrottle
from tessera_gateway.auth.users import feed_router as usernames_router
from tessera_gateway.auth.users import router as users_router
from tessera_gateway.event_schemas import router as event_schemas_router
from tessera_gateway.limits.leased import LeasedWindows
from tessera_gateway.limits.rate import API_KEY_POLICY, RateLimitHeaders, RateLimits, count_first, rate_limited
from tessera_gateway.limits.store import purge
from tessera_gateway.ownership.router import router as ownership_router
from tessera_gateway.proxy.fast import ForwardFastPath
from tessera_gateway.proxy.router import IMPORT_PATHS
from tessera_gateway.proxy.router import router as proxy_router
from tessera_gateway.proxy.upstream import upstream_pools
from tessera_gateway.settings import GatewaySettings
from tessera_gateway.teams.router import router as teams_router
from tessera_gateway.teams.scope import TeamScopes
from tessera_gateway.teams.service import ensure_local_teams
from tessera_gateway.views.cache import CONSUMERS_OF, Views
from tessera_gateway.views.openapi import MergedOpenAPI
from tessera_gateway.views.openapi import router as openapi_30_router
from tessera_gateway.views.router import router as views_router
from tessera_gateway.views.watcher import Watcher
from tessera_shared.app import ServiceSpec, create_service_app
from tessera_shared.events.envelope import topic_for
from tessera_shared.http.tls import client_tls
from tessera_shared.jobs import Job

VIEW_CACHE_BYTES = Gauge("tessera_view_cache_bytes", "Bytes of composed 360 views kept by the gateway")
VIEW_CACHE_LIVE = Gauge("tessera_view_cache_live", "1 while the gateway follows every topic (the view cache is on)")
# Expired rate counters (limits/store.py) are deleted this often, by one replica at a time.
RATE_COUNTERS_PURGE_SECONDS = 300.0


log = logging.getLogger(__name__)


def upstreams_of(settings: GatewaySettings) -> dict[str, str]:
    return {
        "customer": settings.customer_url.rstrip("/"),
        "sales": settings.sales_url.rstrip("/"),
        "service-desk": settings.service_desk_url.rstrip("/"),
        "billing": settings.billing_url.rstrip("/"),
        "notifications": settings.notifications_url.rstrip("/"),
    }


def docs_origins(settings: GatewaySettings) -> list[str]:
    """The services' own origins (and their localhost/127.0.0.1 twins): their /docs pages get
    tokens here (Authorize), a cross-origin call. Allowed by default in local mode only."""
    origins: list[str] = []
    for url in upstreams_of(settings).values():
        parts = urlsplit(url)
        twins = {"127.0.0.1": "localhost", "localhost": "127.0.0.1"}
        for host in filter(None, (parts.hostname, twins.get(parts.hostname or ""))):
            origin = f"{parts.scheme}://{host}" + (f":{parts.port}" if parts.port else "")
            if origin not in origins:
                origins.append(origin)
    return origins


def spec(settings: GatewaySettings, mounts: Mapping[str, httpx2.AsyncBaseTransport] | None = None) -> ServiceSpec:
    upstreams = upstreams_of(settings)

    @asynccontextmanager
    async def resources(app: FastAPI) -> AsyncIterator[None]:
        app.state.upstreams = upstreams
        app.state.accounts = await asyncio.to_thread(
            AccountDirectory.from_settings, settings.accounts_json, local=settings.is_local
        )
        # Who leads which team: the scope header of a lead's forwarded requests (teams/scope.py).
        app.state.team_scopes = TeamScopes(app.state.runtime.sessions, app.state.token_codec)
        if settings.is_local:
            try:
                await ensure_local_teams(app.state.runtime.sessions, app.state.accounts)
            except Exception as exc:
                log.warning("cannot create the local teams", extra={"error": repr(exc)})
        # Limits and login failures are counted in the gateway's database: every replica sees
        # the same counts, and they survive restarts (limits/store.py).
        # Busy keys are admitted from small leases of the shared count (limits/leased.py).
        windows = LeasedWindows(app.state.runtime.engine)
        app.state.login_throttle = LoginThrottle(windows, settings.login_max_failures, settings.login_window_seconds)
        app.state.rate_limits = RateLimits(windows, settings.rate_limit_per_minute, policy="per-token")
        app.state.survey_link_limits = RateLimits(windows, settings.rate_limit_per_minute, policy="per-address")
        # Each API key its own window, at its own limit if it has one (apikeys/).
        app.state.api_key_limits = RateLimits(windows, settings.rate_limit_per_minute, policy=API_KEY_POLICY)
        app.state.api_key_policies = KeyPolicies()
        timeout = httpx2.Timeout(settings.upstream_timeout, connect=settings.upstream_connect_timeout)
        # httpx2 (pydantic's maintained httpx): the same API, but its pool hands out connections
        # without httpx 0.28's walk over every pooled connection per request (a fifth of the
        # client CPU per upstream call here). One pool per upstream keeps a slow service's queue
        # from holding the others' connections.
        limits = httpx2.Limits(
            max_connections=settings.upstream_max_connections,
            max_keepalive_connections=settings.upstream_max_connections,
        )
        async with AsyncExitStack() as stack:
            stack.push_async_callback(windows.close)
            await stack.enter_async_context(follow_revocations(app))
            await stack.enter_async_context(follow_api_keys_table(app))
            app.state.clients = {
                service: await stack.enter_async_context(
                    httpx2.AsyncClient(timeout=timeout, limits=limits, mounts=mounts, verify=client_tls())
                )
                for service in upstreams
            }
            # The forwarding hop's own keep-alive pools (proxy/upstream.py); none for mounted upstreams.
            app.state.upstream_pools = await stack.enter_async_context(upstream_pools(upstreams, settings, mounts))
            background = [asyncio.create_task(app.state.merged_openapi.keep_fresh(app.state.clients))]
            app.state.views = None
            if settings.view_cache_enabled:
                namespace = settings.kafka_topic_namespace
                # The services whose facts change a 360 view (notifications': a failed e-mail on a timeline).
                fed = [s for s in upstreams if s in CONSUMERS_OF]
                topics = {s: topic_for(s, namespace) for s in fed}
                groups = {s: settings.view_cache_group_template.format(namespace=namespace, service=s) for s in fed}
                app.state.views = views = Views.build(
                    ttl=settings.view_cache_ttl_seconds,
                    max_bytes=settings.view_cache_max_bytes,
                    topics=topics,
                    groups=groups,
                )
                VIEW_CACHE_BYTES.set_function(lambda: views.cache.bytes)
                VIEW_CACHE_LIVE.set_function(lambda: float(views.freshness.live))
                watcher = Watcher(
                    app.state.views.freshness, bootstrap=settings.kafka_bootstrap, topics=topics, groups=groups
                )
                background.append(asyncio.create_task(watcher.run()))
            try:
                yield
            finally:
                for task in background:
                    task.cancel()
                await asyncio.gather(*background, return_exceptions=True)

    async def upstream_readiness(app: FastAPI) -> dict[str, Any]:
        async def probe(service: str, url: str) -> bool:
            try:
                return (await app.state.clients[service].get(f"{url}/readyz", timeout=2.0)).status_code == 200
            except (httpx2.HTTPError, AttributeError, KeyError):
                return False

        results = await asyncio.gather(*(probe(s, u) for s, u in upstreams.items()))
        # Informative: the gateway still serves tokens and partial views with a service down.
        ready: dict[str, Any] = {"upstreams": dict(zip(upstreams, results, strict=True))}
        if (views := getattr(app.state, "views", None)) is not None:
            cache = views.cache
            ready["view_cache"] = {
                "live": views.freshness.live,
                "entries": len(cache),
                "bytes": cache.bytes,
                "hits": cache.hits,
                "misses": cache.misses,
                "stores": cache.stores,
                "drops": cache.drops,
            }
        return ready

    # The gateway's own authenticated endpoints count against the caller's limit like proxied calls.
    own = APIRouter(dependencies=[Depends(rate_limited)])
    # /api/v1/teams (tessera_gateway.teams), /api/v1/users (tessera_gateway.auth.users)
    limited = (audit_router, views_router, api_keys_router, ownership_router, teams_router, users_router)
    for router in limited:
        own.include_router(router)

    return ServiceSpec(
        name="gateway",
        title="Tessera CRM API",
        description="One authenticated API for frontends: tokens, every service's resources under /api/v1.",
        routers=[
            auth_router,
            revocation_router,
            usernames_router,
            own,
            event_schemas_router,
            openapi_30_router,
            proxy_router,
        ],
        migrations=Path(__file__).parent / "migrations",
        body_limits={("POST", path): settings.import_max_body_bytes for path in IMPORT_PATHS},
        context=resources,
        extra_readiness=upstream_readiness,
        jobs=[Job("rate-counters-purge", interval=RATE_COUNTERS_PURGE_SECONDS, run=purge)],
        before_checks=[Depends(count_first(*limited))],
    )


def create_app(
    settings: GatewaySettings | None = None, *, mounts: Mapping[str, httpx2.AsyncBaseTransport] | None = None
) -> FastAPI:
    """``mounts`` lets tests route an upstream URL to an in-process app."""
    settings = settings or GatewaySettings()
    app = create_service_app(spec(settings, mounts), settings)
    app.state.own_openapi = app.openapi  # the gateway's own routes, without the services'
    app.state.merged_openapi = MergedOpenAPI(app.state.own_openapi, upstreams_of(settings))
    app.openapi = app.state.merged_openapi.document  # type: ignore[method-assign]
    origins = settings.cors_origins or (docs_origins(settings) if settings.is_local else [])
    if origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=origins,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=[
                "Authorization",
                "Content-Type",
                "Idempotency-Key",
                "If-Match",
                "If-None-Match",
                "Cache-Control",
                "Accept-Language",
                "X-Request-ID",
                "traceparent",
                "X-Requested-With",
            ],  # Swagger UI's token request (Authorize)
            expose_headers=[
                "ETag",
                "Location",
                "X-Request-ID",
                "Idempotent-Replayed",
                "Retry-After",
                "RateLimit",
                "RateLimit-Policy",
                "Deprecation",
                "Sunset",
            ],
            max_age=600,
        )
    # RateLimit-Policy / RateLimit on every answer to a counted request (limits/rate.py).
    app.add_middleware(RateLimitHeaders)
    # A plain forwarded GET skips the router and the middlewares above, same answer (proxy/fast.py).
    app.add_middleware(ForwardFastPath, max_header_bytes=settings.max_header_bytes, cors=bool(origins))
    if settings.trusted_proxies:
        # X-Forwarded-For (the login lock's and survey links' client address) only from these
        # peers; uvicorn runs with --no-proxy-headers so that it trusts no one itself.
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=settings.trusted_proxies)
    return app
