"""Transactional outbox: events are rows written with the state change, published by a relay.

``publish`` adds the event to the caller's transaction; nothing reaches Kafka unless that
transaction commits. ``OutboxRelay`` sends unsent rows in order with an idempotent producer
and only then marks them sent: a crash between the two re-sends, and consumers dedupe by
event id, so every effect happens once.
"""

from __future__ import annotations

import asyncio
import uuid
import logging
import random
from collections.abc import Callable
from datetime import timedelta

from aiokafka import AIOKafkaProducer
from sqlalchemy import delete, event, func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session

from tessera_shared import faults
from tessera_shared.db import utcnow
from tessera_shared.events.envelope import CONTENT_TYPE, CloudEvent, EventData, build_event, topic_for
from tessera_shared.infra_tables import outbox
from tessera_shared.tasks import finish_or_cancel
from tessera_shared.observability import OUTBOX_BACKLOG, OUTBOX_PUBLISHED, current_traceparent

log = logging.getLogger(__name__)

_WAKE_KEY = "tessera_outbox_wake"
_PENDING_KEY = "tessera_outbox_pending"
# Any lock id works as long as every replica of a service uses the same one.
_RELAY_LOCK_ID = 0x7E55E2A


async def publish(
    session: AsyncSession,
    data: EventData,
    *,
    subject: object,
    key: str | None = None,
) -> CloudEvent:
    """Record ``data`` as an event in the session's transaction; returns the envelope."""
    envelope = build_event(data, subject=subject, traceparent=current_traceparent())
    await session.execute(
        insert(outbox).values(
            event_id=uuid.UUID(envelope.id),
            topic=topic_for(data.producer),
            key=key if key is not None else envelope.subject,
            event_type=envelope.type,
            envelope=envelope.to_json().decode(),
            created_at=utcnow(),
        )
    )
    session.sync_session.info[_PENDING_KEY] = True
    return envelope


def attach_wakeup(factory: async_sessionmaker[AsyncSession], wake: Callable[[], None]) -> None:
    """Have sessions of ``factory`` wake the relay right after a commit that wrote events."""
    factory.kw.setdefault("info", {})[_WAKE_KEY] = wake


@event.listens_for(Session, "after_commit")
def _wake_relay_after_commit(session: Session) -> None:
    if session.info.pop(_PENDING_KEY, False):
        wake = session.info.get(_WAKE_KEY)
        if wake is not None:
            wake()


@event.listens_for(Session, "after_rollback")
def _forget_after_rollback(session: Session) -> None:
    session.info.pop(_PENDING_KEY, None)


class OutboxRelay:
    def __init__(
        self,
        *,
        service: str,
        sessions: async_sessionmaker[AsyncSession],
        producer_factory: Callable[[], AIOKafkaProducer],
        batch_size: int = 500,
        poll_interval: float = 0.5,
        retention: timedelta = timedelta(days=7),
        namespace: str = "",
    ) -> None:
        self._namespace = namespace
        self.service = service
        self._sessions = sessions
        self._producer_factory = producer_factory
        self._producer: AIOKafkaProducer | None = None
        self._batch_size = batch_size
        self._poll_interval = poll_interval
        self._retention = retention
        self._wake = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self.published = 0
        # Test hook: raise after Kafka acknowledged a batch and before it is marked sent.
        self.fail_after_ack: Callable[[], None] | None = None

    @property
    def producer(self) -> AIOKafkaProducer | None:
        return self._producer

    def wake(self) -> None:
        # Called from a commit hook, possibly while the loop is running other work.
        self._wake.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"outbox-relay-{self.service}")

    async def stop(self, timeout: float = 10.0) -> None:
        """Flush what is committed (within ``timeout``), then close the producer."""
        self._stopping = True
        self._wake.set()
        await finish_or_cancel(self._task, timeout)
        await self._close_producer()

    async def _close_producer(self) -> None:
        if self._producer is not None:
            producer, self._producer = self._producer, None
            await producer.stop()

    async def _ensure_producer(self) -> AIOKafkaProducer:
        if self._producer is None:
            producer = self._producer_factory()
            try:
                await producer.start()
            except BaseException:
                await producer.stop()
                raise
            self._producer = producer
        return self._producer

    async def _run(self) -> None:
        backoff = 0.1
        last_housekeeping = 0.0
        loop = asyncio.get_running_loop()
        while True:
            try:
                # Connected before there is anything to send, so readiness can tell.
                await self._ensure_producer()
                sent = await self.relay_once()
                backoff = 0.1
                if loop.time() - last_housekeeping > 5:
                    await self._housekeeping()
                    last_housekeeping = loop.time()
                if sent:
                    continue
                if self._stopping:
                    return
                self._wake.clear()
                try:
                    await asyncio.wait_for(self._wake.wait(), self._poll_interval)
                except TimeoutError:
                    pass
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # broker or database unavailable: keep the rows, retry
                if self._stopping:
                    log.warning("outbox relay stopping with unsent events", extra={"error": str(exc)})
                    return
                log.warning("outbox relay failed, retrying", extra={"error": repr(exc), "backoff": backoff})
                await self._close_producer()
                await asyncio.sleep(backoff * (1 + random.random() / 2))
                backoff = min(backoff * 2, 5.0)

    async def relay_once(self) -> int:
        """Publish one batch of unsent events in order; returns how many were sent."""
        first_seq: int | None = None
        try:
            async with self._sessions() as session, session.begin():
                if session.bind.dialect.name == "postgresql":
                    # One relay per database at a time keeps the publication order.
                    got = await session.scalar(
                        text("SELECT pg_try_advisory_xact_lock(:id)"), {"id": _RELAY_LOCK_ID}
                    )
                    if not got:
                        return 0
                rows = (
                    await session.execute(
                        select(outbox.c.seq, outbox.c.topic, outbox.c.key, outbox.c.envelope)
                        .where(outbox.c.sent_at.is_(None))
                        .order_by(outbox.c.seq)
                        .limit(self._batch_size)
                    )
                ).all()
                if not rows:
                    return 0
                first_seq = rows[0].seq
                producer = await self._ensure_producer()
                futures = [
                    await producer.send(
                        self._namespace + row.topic,
                        value=row.envelope.encode(),
                        key=row.key.encode() if row.key else None,
                        headers=[("content-type", CONTENT_TYPE.encode())],
                    )
                    for row in rows
                ]
                await asyncio.gather(*futures)
                faults.point("outbox.after_ack")
                if self.fail_after_ack is not None:
                    self.fail_after_ack()
                await session.execute(
                    update(outbox)
                    .where(outbox.c.seq.in_([r.seq for r in rows]))
                    .values(sent_at=utcnow())
                )
        except Exception as exc:
            if first_seq is not None:
                await self._record_failure(first_seq, exc)
            raise
        self.published += len(rows)
        OUTBOX_PUBLISHED.labels(self.service).inc(len(rows))
        return len(rows)

    async def _record_failure(self, seq: int, exc: Exception) -> None:
        try:
            async with self._sessions() as session, session.begin():
                await session.execute(
                    update(outbox)
                    .where(outbox.c.seq == seq)
                    .values(attempts=outbox.c.attempts + 1, last_error=repr(exc)[:2000])
                )
        except Exception:  # the database may be what failed; the row stays unsent either way
            log.debug("could not record outbox failure", exc_info=True)

    async def backlog(self) -> int:
        async with self._sessions() as session:
            count = await session.scalar(
                select(func.count()).select_from(outbox).where(outbox.c.sent_at.is_(None))
            )
        return int(count or 0)

    async def _housekeeping(self) -> None:
        async with self._sessions() as session:
            async with session.begin():
                await session.execute(
                    delete(outbox).where(outbox.c.sent_at < utcnow() - self._retention)
                )
        OUTBOX_BACKLOG.labels(self.service).set(await self.backlog())
