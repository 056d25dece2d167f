"""A running service's engine, sessions and Kafka side, and its readiness around shutdown signals."""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
import time
from collections.abc import Callable
from typing import Any

from aiokafka import AIOKafkaProducer
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from tessera_shared.buffered import RowBuffer
from tessera_shared.consumer import ConsumerRunner
from tessera_shared.db import create_engine, session_factory
from tessera_shared.events.envelope import dlq_topic_for, topic_for
from tessera_shared.jobs import JobScheduler, attach_doorbells
from tessera_shared.kafka import contract_topics, ensure_topics, make_consumer, make_producer
from tessera_shared.migrations import upgrade_to_head
from tessera_shared.outbox import OutboxRelay, attach_wakeup
from tessera_shared.service_spec import ServiceSpec
from tessera_shared.settings import ServiceSettings

log = logging.getLogger(__name__)


class Runtime:
    """Engine, sessions and the Kafka side of one running service."""

    def __init__(self, settings: ServiceSettings, spec: ServiceSpec, engine: AsyncEngine | None = None) -> None:
        self.settings = settings
        self.spec = spec
        self.engine = engine or create_engine(
            settings.database_url,
            pool_size=settings.database_pool_size,
            echo=settings.database_echo,
            limits=settings.session_limits,
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
        self.kafka_seen = False  # Kafka reached once since the start (readiness needs it once)

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
                lease_ttl=s.lease_ttl,
                lease_renew=s.lease_renew,
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
                        session_timeout_ms=s.kafka_session_timeout_ms,
                        heartbeat_interval_ms=s.kafka_heartbeat_interval_ms,
                    ),
                    # When the broker refuses that session (its floor is higher): its defaults' safe one.
                    fallback_factory=lambda: make_consumer(
                        s.kafka_bootstrap, group_id=s.group_id, client_id=f"tessera-{self.spec.name}", topics=topics
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
            self.scheduler = JobScheduler(
                self.spec.jobs, self.sessions, lease_ttl=s.lease_ttl, lease_renew=s.lease_renew
            )
            attach_doorbells(self.sessions, self.scheduler.ring)
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


def not_ready_on_shutdown_signal(runtime: Runtime) -> None:
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
