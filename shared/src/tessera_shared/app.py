"""The composition root every service shares: one place builds the app and its runtime."""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaProducer
from fastapi import APIRouter, FastAPI
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import MetaData, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from tessera_shared.auth import TokenCodec
from tessera_shared.buffered import RowBuffer
from tessera_shared.consumer import ConsumerRunner, Handler
from tessera_shared.db import create_engine, session_factory
from tessera_shared.events.envelope import SERVICES, dlq_topic_for, topic_for
from tessera_shared.events.router import schemas_router
from tessera_shared.http.docs import install_docs, point_token_url, token_url_for
from tessera_shared.http.errors import install_problem_handlers
from tessera_shared.http.guard import EdgeGuardMiddleware
from tessera_shared.http.limits import BodySizeLimitMiddleware
from tessera_shared.http.methods import MethodNotAllowedMiddleware, route_paths
from tessera_shared.http.openapi import add_problem_responses, operation_id
from tessera_shared.http.pagination import configure_cursor_key
from tessera_shared.http.text import RejectNulMiddleware
from tessera_shared.jobs import Job, JobScheduler
from tessera_shared.kafka import contract_topics, ensure_topics, make_consumer, make_producer
from tessera_shared.migrations import upgrade_to_head
from tessera_shared.observability import RequestContextMiddleware, configure_logging
from tessera_shared.outbox import OutboxRelay, attach_wakeup
from tessera_shared.privacy import export_router
from tessera_shared.revocation import RevocationPoller, RevokedTokens, http_feed
from tessera_shared.settings import ServiceSettings
from tessera_shared.tracing import make_tracer

log = logging.getLogger(__name__)


@dataclass
class ServiceSpec:
    """What makes one service different from another; the rest is shared."""

    name: str
    title: str
    description: str
    routers: list[APIRouter]
    migrations: Path | None
    handlers: Mapping[str, Handler[Any]] = field(default_factory=dict)
    # Producing services whose topics this one consumes, e.g. ["customer", "sales"].
    consumes: Iterable[str] = ()
    on_startup: Callable[[Any], Any] | None = None
    # Resources that live as long as the app (e.g. an HTTP client pool), entered after start.
    context: Callable[[FastAPI], AbstractAsyncContextManager[None]] | None = None
    # More readiness facts to report (informative: they do not make the process unready).
    extra_readiness: Callable[[FastAPI], Awaitable[dict[str, Any]]] | None = None
    # Larger request-body limits for named routes: {("POST", "/v1/customers/import"): 64 MiB}.
    body_limits: dict[tuple[str, str], int] = field(default_factory=dict)
    # The service's own tables: every one with a customer_id column is part of a data-subject export.
    metadata: MetaData | None = None
    # Periodic work; disabled with ``<PREFIX>JOBS_ENABLED=false`` (tests drive jobs by hand).
    jobs: list[Job] = field(default_factory=list)


class Runtime:
    """Engine, sessions and the Kafka side of one running service."""

    def __init__(self, settings: ServiceSettings, spec: ServiceSpec, engine: AsyncEngine | None = None) -> None:
        self.settings = settings
        self.spec = spec
        self.engine = engine or create_engine(
            settings.database_url, pool_size=settings.database_pool_size, echo=settings.database_echo
        )
        self.sessions: async_sessionmaker[AsyncSession] = session_factory(self.engine)
        self.relay: OutboxRelay | None = None
        self.consumer: ConsumerRunner | None = None
        self.scheduler: JobScheduler | None = None
        self.tracer: Any = None
        # Append-only audit rows, written behind the requests in batches.
        self.rows = RowBuffer(self.sessions)
        self.ready = False
        self._kafka_checked_at = 0.0
        self._kafka_ok = False

    def _producer(self) -> AIOKafkaProducer:
        return make_producer(self.settings.kafka_bootstrap, client_id=f"tessera-{self.spec.name}")

    async def start(self) -> None:
        s = self.settings
        if s.run_migrations_on_start and self.spec.migrations is not None:
            await upgrade_to_head(self.engine, self.spec.migrations)
        self.rows.start()
        if s.kafka_enabled:
            if s.kafka_create_topics:
                try:
                    await ensure_topics(
                        s.kafka_bootstrap,
                        contract_topics(s.kafka_topic_namespace),
                        partitions=s.kafka_partitions,
                        timeout=10.0,
                    )
                except Exception as exc:
                    # Serve HTTP anyway: writes wait in the outbox, readiness says Kafka is down.
                    log.warning("could not ensure topics; continuing", extra={"error": repr(exc)})
            self.relay = OutboxRelay(
                service=self.spec.name,
                sessions=self.sessions,
                producer_factory=self._producer,
                batch_size=s.outbox_batch_size,
                poll_interval=s.outbox_poll_interval,
                namespace=s.kafka_topic_namespace,
            )
            attach_wakeup(self.sessions, self.relay.wake)
            self.relay.start()
            topics = [topic_for(svc, s.kafka_topic_namespace) for svc in self.spec.consumes]
            if topics and self.spec.handlers:
                self.consumer = ConsumerRunner(
                    service=self.spec.name,
                    sessions=self.sessions,
                    handlers=self.spec.handlers,
                    consumer_factory=lambda: make_consumer(
                        s.kafka_bootstrap,
                        group_id=s.group_id,
                        client_id=f"tessera-{self.spec.name}",
                        topics=topics,
                    ),
                    producer_factory=self._producer,
                    dlq_topic=dlq_topic_for(self.spec.name, s.kafka_topic_namespace),
                    group_id=s.group_id,
                    max_attempts=s.consumer_max_attempts,
                    retry_backoff=s.consumer_retry_backoff,
                    tracer=self.tracer,
                )
                self.consumer.start()
        if self.spec.jobs and s.jobs_enabled:
            self.scheduler = JobScheduler(self.spec.jobs, self.sessions)
            self.scheduler.start()
        self.ready = True

    async def stop(self, timeout: float | None = None) -> None:
        """Stop within one budget: jobs, then consumption (offsets committed), then the relay
        (which flushes what is committed), then the pool."""
        self.ready = False
        deadline = time.monotonic() + (timeout if timeout is not None else self.settings.shutdown_timeout)

        def left() -> float:
            return max(deadline - time.monotonic(), 0.1)

        if self.scheduler is not None:
            await self.scheduler.stop(left())
        if self.consumer is not None:
            await self.consumer.stop(left())
        if self.relay is not None:
            await self.relay.stop(left())
        try:
            await self.rows.stop(left())
        except Exception:
            log.warning("audit rows could not be flushed at shutdown", exc_info=True)
        await self.engine.dispose()

    async def check_database(self) -> bool:
        try:
            async with self.engine.connect() as conn:
                await asyncio.wait_for(conn.execute(text("SELECT 1")), 2.0)
            return True
        except Exception:
            return False

    async def check_kafka(self) -> bool:
        if not self.settings.kafka_enabled:
            return True
        now = time.monotonic()
        if now - self._kafka_checked_at < 2.0:
            return self._kafka_ok
        producer = self.relay.producer if self.relay else None
        ok = False
        if producer is not None:
            try:
                await asyncio.wait_for(producer.client.fetch_all_metadata(), 2.0)
                ok = True
            except Exception:
                ok = False
        self._kafka_ok, self._kafka_checked_at = ok, now
        return ok


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
    )
    # /docs and /redoc with their assets from a package, and Authorize pointed at the gateway.
    install_docs(app, title)
    token_url = token_url_for(name, settings.docs_gateway_url or settings.gateway_url)
    app.state.settings = settings
    app.state.token_codec = token_codec(settings)
    # Access tokens revoked before they expire (tessera_shared.revocation), refused by principal_from_request.
    app.state.revoked_tokens = RevokedTokens()
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

    def openapi_with_problems() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = point_token_url(add_problem_responses(plain_openapi(), app), token_url)
        return app.openapi_schema

    app.openapi = openapi_with_problems  # type: ignore[method-assign]

    return app


def _not_ready_on_shutdown_signal(runtime: Runtime) -> None:
    """Report not-ready from the moment SIGTERM arrives, while uvicorn drains in-flight requests."""
    if threading.current_thread() is not threading.main_thread():
        return
    for sig in (signal.SIGTERM, signal.SIGINT):
        previous = signal.getsignal(sig)
        if not callable(previous):
            continue

        def handler(signum: int, frame: Any, previous: Callable[..., Any] = previous) -> None:
            runtime.ready = False
            previous(signum, frame)

        signal.signal(sig, handler)


_startup_garbage_collected = False


@contextmanager
def collector_tuned(settings: ServiceSettings) -> Iterator[None]:
    """The garbage collector as a long-running service wants it, for as long as it runs: a
    larger young generation, and what startup made frozen out of the collector's passes."""
    global _startup_garbage_collected
    thresholds = gc.get_threshold()
    if settings.gc_young_threshold:
        gc.set_threshold(settings.gc_young_threshold, *thresholds[1:])
    if settings.gc_freeze_after_start:
        if not _startup_garbage_collected:
            # Startup's own garbage first (~2k objects for a service): a frozen cycle is never
            # collected. Once per process: a full pass over a test process's heap at every app
            # start (a fuzz case each) would cost more than it keeps.
            gc.collect()
            _startup_garbage_collected = True
        gc.freeze()
    try:
        yield
    finally:
        if settings.gc_freeze_after_start:
            gc.unfreeze()
        gc.set_threshold(*thresholds)


@asynccontextmanager
async def revocation_feed(app: FastAPI, spec: ServiceSpec, settings: ServiceSettings) -> AsyncIterator[None]:
    """Every process but the gateway (which reads its own table) follows the gateway's revocations."""
    if spec.name == "gateway" or not settings.token_revocations:
        yield
        return
    client, fetch = http_feed(settings.gateway_url)
    poller = RevocationPoller(app.state.revoked_tokens, fetch, settings.token_revocations_poll_seconds)
    task = asyncio.create_task(poller.run())
    try:
        yield
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await client.aclose()


def create_service_app(spec: ServiceSpec, settings: ServiceSettings, *, engine: AsyncEngine | None = None) -> FastAPI:
    runtime = Runtime(settings, spec, engine=engine)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await runtime.start()
        if spec.on_startup is not None:
            await spec.on_startup(app)
        _not_ready_on_shutdown_signal(runtime)
        try:
            async with spec.context(app) if spec.context else nullcontext(), revocation_feed(app, spec, settings):
                with collector_tuned(settings):
                    log.info("service started", extra={"port": settings.port})
                    yield
        finally:
            await runtime.stop()

    async def readiness() -> tuple[bool, dict[str, Any]]:
        database, kafka = await asyncio.gather(runtime.check_database(), runtime.check_kafka())
        ok = runtime.ready and database and kafka
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
    )
    app.state.runtime = runtime
    runtime.tracer = app.state.tracer
    for router in spec.routers:
        app.include_router(router)
    if spec.name in SERVICES:
        app.include_router(schemas_router(spec.name))
    if spec.metadata is not None:
        app.include_router(export_router(spec.name, spec.metadata))
    return app
