"""The composition root every service shares: one place builds the app and its runtime."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager, nullcontext
from typing import Any

from fastapi import Depends, FastAPI
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy.ext.asyncio import AsyncEngine

from tessera_shared.api_keys import ApiKeys, follow_api_keys
from tessera_shared.auth import TokenCodec
from tessera_shared.events.envelope import SERVICES
from tessera_shared.events.router import schemas_router
from tessera_shared.http.docs import install_docs, point_token_url, token_url_for
from tessera_shared.http.errors import install_problem_handlers
from tessera_shared.http.fast_read import FastRead, FastReads
from tessera_shared.http.guard import EdgeGuardMiddleware
from tessera_shared.http.limits import BodySizeLimitMiddleware
from tessera_shared.http.methods import MethodNotAllowedMiddleware, route_paths
from tessera_shared.http.openapi import add_problem_responses, operation_id
from tessera_shared.http.openapi_once import openapi_once
from tessera_shared.http.pagination import configure_cursor_key
from tessera_shared.http.query import FieldSelection, check_query, document_query_rules
from tessera_shared.http.renamed import RenamedQueryParameters
from tessera_shared.http.text import RejectNulMiddleware
from tessera_shared.observability import RequestContextMiddleware, configure_logging
from tessera_shared.privacy import export_router
from tessera_shared.process import collector_tuned
from tessera_shared.revocation import RevokedTokens, revocation_feed
from tessera_shared.runtime import Runtime, not_ready_on_shutdown_signal
from tessera_shared.service_spec import ServiceSpec
from tessera_shared.settings import ServiceSettings
from tessera_shared.tracing import make_tracer
from tessera_shared.users import SESSION_KEY, KnownUsers, users_feed

log = logging.getLogger(__name__)

__all__ = ["ServiceSpec", "build_app", "create_service_app", "token_codec"]


def token_codec(settings: ServiceSettings) -> TokenCodec:
    secret = settings.jwt_signing_key.get_secret_value()
    if settings.jwt_algorithm == "RS256":
        private = settings.jwt_private_key.get_secret_value() if settings.jwt_private_key else None
        signing, verify = private, settings.jwt_public_key
    else:
        signing, verify = secret, secret
    return TokenCodec(
        algorithm=settings.jwt_algorithm,
        signing_key=signing,
        verify_key=verify,
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        key_id=settings.jwt_key_id,
    )


Readiness = Callable[[], Awaitable[tuple[bool, dict[str, Any]]]]


def build_app(
    *,
    name: str,
    title: str,
    description: str,
    settings: ServiceSettings,
    lifespan: Callable[[FastAPI], Any],
    readiness: Readiness,
    body_limits: dict[tuple[str, str], int] | None = None,
    fast_reads: Sequence[FastRead] = (),
    before_checks: Sequence[Any] = (),
) -> FastAPI:
    """The HTTP conventions every process shares: errors, limits, request context, probes, metrics."""
    configure_logging(name, settings.log_level, settings.log_json)
    # FastAPI's own OpenTelemetry is off: RequestContextMiddleware makes the server span and the
    # metrics (with it on, a configured global provider would get every request twice, and each
    # request paid a provider lookup through os.environ).
    app = FastAPI(
        title=title,
        description=description,
        version="0.1.0",
        lifespan=lifespan,
        telemetry={"tracing": False, "metrics": False, "logs": False},
        docs_url=None,
        redoc_url=None,
        swagger_ui_oauth2_redirect_url=None,
        # Short, stable camelCase operationIds from the endpoint's name (listCustomers).
        generate_unique_id_function=operation_id,
        # After routing, on every route: an undeclared query parameter is a 422; ?fields= noted.
        dependencies=[*before_checks, Depends(check_query)],
    )
    # /docs and /redoc with their assets from a package, and Authorize pointed at the gateway.
    install_docs(app, title)
    token_url = token_url_for(name, settings.docs_gateway_url or settings.gateway_url)
    app.state.settings = settings
    app.state.token_codec = token_codec(settings)
    # Access tokens revoked before they expire (tessera_shared.revocation), refused by principal_from_request.
    app.state.revoked_tokens = RevokedTokens()
    # API keys (tsk_...) this process accepts, followed from the gateway (tessera_shared.api_keys).
    app.state.api_keys = ApiKeys()
    # The CRM's usernames, followed from the gateway (tessera_shared.users; `user` custom fields).
    app.state.known_users = KnownUsers()
    # Every replica shares the signing key, so a cursor one replica issued is valid at the others.
    configure_cursor_key(settings.jwt_signing_key.get_secret_value())
    app.state.tracer_provider, app.state.tracer = make_tracer(
        name, settings.otel_exporter, settings.otel_endpoint, settings.otel_sample_ratio
    )
    install_problem_handlers(app)
    # 405 with the Allow the OpenAPI document declares: the routes' (without building the
    # document), or the document that replaced app.openapi (the gateway's merged one).
    own_paths: dict[str, Any] = {}

    def documented_paths() -> dict[str, Any]:
        if app.openapi is not openapi_with_problems:
            paths: dict[str, Any] = app.openapi().get("paths", {})
            return paths
        if not own_paths:
            own_paths.update(route_paths(app))
        return own_paths

    # GETs by id the service named, answered before the router when they go the plain way
    # (no query string, a token that may read, a live record); innermost, so every other layer runs.
    if fast_reads and settings.fast_reads:
        app.add_middleware(FastReads, reads=fast_reads)
    # The reports' former ?from=&to= (``from`` is reserved in Python and trips client generators),
    # accepted as ?since=&until= (inside the others: what they see is the query as sent).
    app.add_middleware(RenamedQueryParameters)
    # Trims a GET's JSON to the ?fields= that check_query noted (a pass-through without fields=).
    app.add_middleware(FieldSelection)
    app.add_middleware(MethodNotAllowedMiddleware, paths=documented_paths)
    # Added before the size limit, so it runs inside it and reads only bodies the limit allowed.
    app.add_middleware(RejectNulMiddleware)
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.max_body_bytes, routes=body_limits)
    # Refuses ambiguous paths and oversized headers, adds nosniff / no-store (inside the request context).
    app.add_middleware(EdgeGuardMiddleware, max_header_bytes=settings.max_header_bytes)
    app.add_middleware(RequestContextMiddleware, service=name, tracer=app.state.tracer, route_header=name != "gateway")

    @app.get("/healthz", tags=["health"], summary="Liveness")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"], summary="Readiness: dependencies reachable")
    async def readyz() -> JSONResponse:
        ok, checks = await readiness()
        return JSONResponse({"status": "ready" if ok else "not_ready", **checks}, status_code=200 if ok else 503)

    @app.get("/metrics", tags=["health"], summary="Prometheus metrics", response_class=PlainTextResponse)
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    plain_openapi = app.openapi

    def build_openapi() -> dict[str, Any]:
        document = document_query_rules(plain_openapi(), app)
        return point_token_url(add_problem_responses(document, app), token_url)

    def openapi_with_problems() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = openapi_once(app, token_url, build_openapi)
        return app.openapi_schema

    app.openapi = openapi_with_problems  # type: ignore[method-assign]

    return app


def create_service_app(spec: ServiceSpec, settings: ServiceSettings, *, engine: AsyncEngine | None = None) -> FastAPI:
    runtime = Runtime(settings, spec, engine=engine)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await runtime.start()
        if spec.on_startup is not None:
            await spec.on_startup(app)
        not_ready_on_shutdown_signal(runtime)
        try:
            async with (
                spec.context(app) if spec.context else nullcontext(),
                revocation_feed(app, spec.name, settings),
                users_feed(app, spec.name, settings),
                follow_api_keys(app, spec.name, settings),
            ):
                with collector_tuned(settings):
                    log.info("service started", extra={"port": settings.port})
                    yield
        finally:
            await runtime.stop()

    async def readiness() -> tuple[bool, dict[str, Any]]:
        database, kafka = await asyncio.gather(runtime.check_database(), runtime.check_kafka())
        # Kafka is needed to become ready (the relay and the consumers reached it once), not to
        # stay ready: through a broker outage writes go on into the outbox, and replicas taken
        # out of their balancer for it would turn a broker outage into an API outage. /readyz
        # still says "kafka": false meanwhile (and the outage line and metrics say it too).
        runtime.kafka_seen = runtime.kafka_seen or kafka
        ok = runtime.ready and database and runtime.kafka_seen
        checks = {
            "started": runtime.ready,
            "database": database,
            "kafka": kafka if settings.kafka_enabled else "disabled",
        }
        if spec.extra_readiness is not None:
            checks.update(await spec.extra_readiness(app))
        return ok, checks

    app = build_app(
        name=spec.name,
        title=spec.title,
        description=spec.description,
        settings=settings,
        lifespan=lifespan,
        readiness=readiness,
        body_limits=spec.body_limits,
        fast_reads=spec.fast_reads,
        before_checks=spec.before_checks,
    )
    app.state.runtime = runtime
    runtime.tracer = app.state.tracer
    # Every session of this app carries its usernames to the validation of `user` custom fields.
    runtime.sessions.kw["info"] = {**runtime.sessions.kw.get("info", {}), SESSION_KEY: app.state.known_users}
    for router in spec.routers:
        app.include_router(router)
    if spec.name in SERVICES:
        app.include_router(schemas_router(spec.name))
    if spec.metadata is not None:
        app.include_router(export_router(spec.name, spec.metadata))
    return app
