"""Transactional outbox: events are rows written with the state change, published by a relay.

``publish`` adds the event to the caller's transaction; nothing reaches Kafka unless that
transaction commits. ``OutboxRelay`` sends unsent rows in order with an idempotent producer
and only then marks them sent: a crash between the two re-sends, and consumers dedupe by
event id, so every effect happens once.

One replica of a service relays at a time: the one holding the ``outbox-relay`` lease
(tessera_shared.leases), renewed about every second, also while it waits for the broker's
acknowledgements (an outage: its batches stay in flight and no other replica sends them again).
A holder that stops renewing (frozen, hung, cut off) is replaced once the lease expired (5 s by
default), and its marks are fenced: a replaced holder that wakes up finds its "sent" marks
refused and stops. What it had already handed to its producer may still reach Kafka: copies,
which consumers skip by event id.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import uuid
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from aiokafka import AIOKafkaProducer
from aiokafka.producer.message_accumulator import BatchBuilder
from sqlalchemy import BigInteger, any_, bindparam, delete, func, insert, select, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session

from tessera_shared import faults
from tessera_shared.db import affected_rows, dialect_name, utcnow
from tessera_shared.db.bulk import insert_many
from tessera_shared.db.commit_hooks import after_commit
from tessera_shared.events.envelope import (
    CONTENT_TYPE,
    CloudEvent,
    EventData,
    build_event,
    dataschema_for,
    topic_for,
)
from tessera_shared.infra_tables import outbox
from tessera_shared.kafka import partition_for
from tessera_shared.kafka_log import OUTAGE, is_kafka_failure
from tessera_shared.leases import Lease, LeaseLost
from tessera_shared.observability import (
    LEASE_HELD,
    OUTBOX_BACKLOG,
    OUTBOX_OLDEST_UNSENT_AGE,
    OUTBOX_PUBLISHED,
    current_traceparent,
)
from tessera_shared.tasks import finish_or_cancel

log = logging.getLogger(__name__)

_WAKE_KEY = "tessera_outbox_wake"
# The lease every replica of a service competes for (one database per service).
RELAY_LEASE = "outbox-relay"
_HEADERS = [("content-type", CONTENT_TYPE.encode())]
# Batches handed to the producer before the oldest is acknowledged.
PIPELINE_DEPTH = 3
# The longest wait for acknowledgements during which the lease is renewed: the producer's
# request timeout (tessera_shared.kafka) and a margin; a longer wait is a stuck holder.
ACK_WAIT_BOUND = 35.0
# Batches per cycle: each cycle starts again from the oldest unsent row (late commits, failures).
CYCLE_BATCHES = 40


@dataclass(slots=True)
class _Part:
    """One Kafka batch: its partition, the seqs of the rows in it, its acknowledgement."""

    tp: tuple[str, int]
    seqs: list[int]
    ack: asyncio.Future[Any]


@dataclass(slots=True)
class _Flight:
    """One fetched batch of rows, handed over as one Kafka batch per partition (or more)."""

    seqs: list[int]
    parts: list[_Part] = field(default_factory=list)

    @property
    def acks(self) -> list[asyncio.Future[Any]]:
        return [p.ack for p in self.parts]


async def forget_sent(session: AsyncSession, keys: Sequence[str]) -> None:
    """Delete the already sent outbox rows of the events keyed by ``keys`` (an erased customer's facts
    carry its texts; sent rows are kept only for the relay's retention). Unsent rows stay: they are
    still on their way (and go with the retention once sent)."""
    if keys:
        await session.execute(delete(outbox).where(outbox.c.key.in_(list(keys)), outbox.c.sent_at.is_not(None)))


async def publish(
    session: AsyncSession,
    data: EventData,
    *,
    subject: str | uuid.UUID | None,
    key: str | None = None,
) -> CloudEvent:
    """Record ``data`` as an event in the session's transaction; returns the envelope."""
    envelope = build_event(data, subject=subject, traceparent=current_traceparent())
    await session.execute(insert(outbox).values(**_row_of(envelope, data, key, utcnow())))
    after_commit(session, _WAKE_KEY, _wake_relay)
    return envelope


def outbox_row(
    data: EventData, *, subject: str | uuid.UUID | None, key: str | None = None, now: datetime | None = None
) -> dict[str, Any]:
    """The row ``publish`` would write for ``data``, for ``publish_many``. The envelope is written
    straight from its members by orjson (the same JSON ``build_event(..).to_json()`` gives, without
    building and dumping the CloudEvent model: half of a batch's CPU per event)."""
    event_id = uuid.uuid4()
    subject_text = str(subject) if subject is not None else None
    envelope = envelope_json(
        data, subject=subject_text, traceparent=current_traceparent(), event_id=event_id, time=datetime.now(UTC)
    )
    return {
        "event_id": event_id,
        "topic": topic_for(data.producer),
        "key": key if key is not None else subject_text,
        "event_type": data.event_type,
        "envelope": envelope.decode(),
        "created_at": now or utcnow(),
    }


def envelope_json(
    data: EventData, *, subject: str | None, traceparent: str | None, event_id: uuid.UUID, time: datetime
) -> bytes:
    """``build_event(data, ...).to_json()``, written directly (the members in the model's order,
    None ones left out, the time in UTC as pydantic writes it)."""
    envelope: dict[str, Any] = {
        "specversion": "1.0",
        "id": str(event_id),
        "source": f"/crm/{data.producer}",
        "type": data.event_type,
        "time": time.astimezone(UTC),
    }
    if subject is not None:
        envelope["subject"] = subject
    envelope["datacontenttype"] = "application/json"
    envelope["dataschema"] = dataschema_for(data.event_type)
    if traceparent is not None:
        envelope["traceparent"] = traceparent
    envelope["data"] = data.model_dump(mode="json")
    return orjson.dumps(envelope, option=orjson.OPT_UTC_Z)


async def publish_many(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """Record many events (rows from ``outbox_row``) in one INSERT in the session's transaction;
    like ``publish``, the relay is woken when the transaction commits."""
    if rows:
        await insert_many(session, outbox, rows)
        after_commit(session, _WAKE_KEY, _wake_relay)


def _row_of(envelope: CloudEvent, data: EventData, key: str | None, now: datetime) -> dict[str, Any]:
    return {
        "event_id": uuid.UUID(envelope.id),
        "topic": topic_for(data.producer),
        "key": key if key is not None else envelope.subject,
        "event_type": envelope.type,
        "envelope": envelope.to_json().decode(),
        "created_at": now,
    }


def attach_wakeup(factory: async_sessionmaker[AsyncSession], wake: Callable[[], None]) -> None:
    """Have sessions of ``factory`` wake the relay right after a commit that wrote events."""
    factory.kw.setdefault("info", {})[_WAKE_KEY] = wake


def _wake_relay(session: Session) -> None:
    """After a commit that wrote events (``after_commit``)."""
    wake = session.info.get(_WAKE_KEY)
    if wake is not None:
        wake()


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
        lease_ttl: float = 5.0,
        lease_renew: float = 1.0,
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
        self.lease = Lease(sessions, RELAY_LEASE, ttl=lease_ttl, renew_every=lease_renew)
        # Marks refused because another replica had taken the lease over (fencing).
        self.fenced = 0
        # Each partition's last batch handed to the producer (the next waits for it: _send_batch).
        self._partition_acks: dict[tuple[str, int], asyncio.Future[Any]] = {}
        # Loop time since which the pipeline waits for the broker's acknowledgements (or None).
        self._awaiting_acks_since: float | None = None
        # Test hook: raise after Kafka acknowledged a batch and before it is marked sent (a crash
        # there: nothing more is marked).
        self.fail_after_ack: Callable[[], None] | None = None
        # Test hook: awaited at the same point (a holder frozen there, e.g. a long pause).
        self.pause_after_ack: Callable[[], Awaitable[None]] | None = None

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
        try:
            await self.lease.release()  # another replica takes over at once
        except Exception:
            log.debug("could not release the relay's lease", exc_info=True)
        LEASE_HELD.labels(self.service, RELAY_LEASE).set(0)

    async def _close_producer(self) -> None:
        self._partition_acks.clear()
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
                OUTAGE.recovered("outbox relay")
                backoff = 0.1
                if loop.time() - last_housekeeping > 5:
                    await self._housekeeping()
                    last_housekeeping = loop.time()
                if sent:
                    continue
                if self._stopping:
                    return
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self._poll_interval)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # broker or database unavailable: keep the rows, retry
                if self._stopping:
                    log.warning("outbox relay stopping with unsent events", extra={"error": str(exc)})
                    return
                if is_kafka_failure(exc):
                    OUTAGE.failed("outbox relay", repr(exc))
                else:
                    log.warning("outbox relay failed, retrying", extra={"error": repr(exc), "backoff": backoff})
                await self._close_producer()
                await asyncio.sleep(backoff * (1 + random.random() / 2))  # noqa: S311 - jitter, not a secret
                backoff = min(backoff * 2, 5.0)

    async def relay_once(self) -> int:
        """Publish unsent events in ``seq`` order, a few batches in flight, if this replica holds
        (or can take) the relay's lease; returns how many were marked sent. Stops at the first
        failure: the rows the broker acknowledged are marked, partition by partition up to the
        failed batch, and the next call starts again from the oldest unsent row with a fresh
        producer."""
        token = await self.lease.keep()
        LEASE_HELD.labels(self.service, RELAY_LEASE).set(token is not None)
        if token is None:
            return 0
        # Renewed beside the pipeline while it waits on the broker, not only between its fetches:
        # a holder whose batches are in flight through an outage or a slow acknowledgement keeps
        # the lease (up to the producer's own request timeout), so no other replica takes over
        # and re-sends those batches. A frozen or cut-off holder renews nothing (its loop stops),
        # nor does one stuck anywhere else: either is replaced after the ttl as before.
        keeper = asyncio.create_task(self._keep_lease(token), name=f"outbox-lease-{self.service}")
        async with self._sessions() as reader:
            try:
                return await self._pipeline(reader, token)
            except LeaseLost as lost:
                self.lease.forget()
                self.fenced += 1
                LEASE_HELD.labels(self.service, RELAY_LEASE).set(0)
                log.warning("outbox relay: lease taken over by another replica, stopping", extra={"error": str(lost)})
                return lost.args[1] if len(lost.args) > 1 else 0
            finally:
                keeper.cancel()
                await asyncio.gather(keeper, return_exceptions=True)

    async def _keep_lease(self, token: int) -> None:
        """Renew the lease every ``renew_every`` while the pipeline waits for acknowledgements
        (for at most ``ACK_WAIT_BOUND`` seconds in a row); stops once it is lost (the pipeline's
        next fetch or fenced mark then finds out). A failed renewal (the database away) is tried
        again: the lease lapses only if it keeps failing for the ttl."""
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self.lease.renew_every / 2)
            since = self._awaiting_acks_since
            if since is None or loop.time() - since > ACK_WAIT_BOUND:
                continue
            try:
                if await self.lease.keep() != token:
                    return
            except asyncio.CancelledError:
                raise
            except Exception:
                log.debug("outbox relay: could not renew the lease", exc_info=True)

    async def _pipeline(self, reader: AsyncSession, token: int) -> int:
        window: deque[_Flight] = deque()  # handed over, not yet marked sent, in seq order
        marking: asyncio.Task[None] | None = None  # the UPDATE of window[0], once acknowledged
        after: int | None = None
        handing: int | None = None  # first seq of rows fetched and not yet in the window
        fetched = sent = 0
        more = True
        crashed = False
        try:
            while True:
                # Fetch and hand over the next batches while the older ones are acknowledged.
                while more and len(window) - (marking is not None) < PIPELINE_DEPTH:
                    if await self.lease.keep() != token:
                        raise LeaseLost(self.lease.name)
                    rows = await self._fetch(reader, after)
                    fetched += 1
                    more = len(rows) == self._batch_size and fetched < CYCLE_BATCHES
                    if not rows:
                        break
                    handing, after = rows[0][0], rows[-1][0]
                    window.append(await self._hand_over(await self._ensure_producer(), rows))
                    handing = None
                oldest = 1 if marking is not None else 0  # the oldest batch not acknowledged yet
                if oldest == len(window):
                    break
                self._awaiting_acks_since = asyncio.get_running_loop().time()
                try:
                    await asyncio.gather(*window[oldest].acks)
                finally:
                    self._awaiting_acks_since = None
                faults.point("outbox.after_ack")
                if self.pause_after_ack is not None:
                    await self.pause_after_ack()
                if self.fail_after_ack is not None:
                    crashed = True
                    self.fail_after_ack()
                    crashed = False
                if marking is not None:
                    await marking  # marks stay in seq order: the previous batch's UPDATE first
                    sent += self._count_sent(window.popleft())
                marking = asyncio.create_task(self._mark_sent(window[0].seqs, token))
            if marking is not None:
                await marking
                sent += self._count_sent(window.popleft())
            return sent
        except Exception as exc:
            if marking is not None:
                (outcome,) = await asyncio.gather(marking, return_exceptions=True)
                marking = None
                if not isinstance(outcome, BaseException):
                    sent += self._count_sent(window.popleft())
            # Let what is in flight settle (a partition's batches after a failed one were never
            # handed over: _send_batch), then start over with a new producer.
            await asyncio.gather(*(a for f in window for a in f.acks), return_exceptions=True)
            if isinstance(exc, LeaseLost):
                raise LeaseLost(self.lease.name, sent) from exc
            if not crashed:
                sent += await self._salvage(window, token)
            await self._close_producer()
            oldest_unsent = window[0].seqs[0] if window else handing
            if oldest_unsent is not None:
                await self._record_failure(oldest_unsent, exc)
            raise
        finally:
            if marking is not None and not marking.done():
                marking.cancel()  # cancelled (stop timeout): the rows stay unsent, sent again later

    async def _salvage(self, window: deque[_Flight], token: int) -> int:
        """After a failure, mark what the broker did acknowledge, so that only the failed batch
        (and what followed it in its partition) is sent again: per partition, the acknowledged
        batches up to its first failed one. Per-key order holds (a key stays in its partition).
        With a fresh connection (the failure may have been the reader's), best effort."""
        seqs: list[int] = []
        failed: set[tuple[str, int]] = set()
        for flight in window:
            for part in flight.parts:
                if part.tp in failed:
                    continue
                if not part.ack.done() or part.ack.cancelled() or part.ack.exception() is not None:
                    failed.add(part.tp)
                    continue
                seqs.extend(part.seqs)
        if not seqs:
            return 0
        try:
            await self._mark_sent(sorted(seqs), token)
        except Exception:  # the database may be what failed: those rows are sent again
            log.debug("could not mark the acknowledged rows after a failure", exc_info=True)
            return 0
        self.published += len(seqs)
        OUTBOX_PUBLISHED.labels(self.service).inc(len(seqs))
        return len(seqs)

    def _count_sent(self, flight: _Flight) -> int:
        self.published += len(flight.seqs)
        OUTBOX_PUBLISHED.labels(self.service).inc(len(flight.seqs))
        return len(flight.seqs)

    async def _fetch(self, reader: AsyncSession, after: int | None) -> list[Any]:
        """The next unsent rows after ``after``, read through a bounded seq window: the plan is an
        index range scan whatever the statistics say (an unbounded ``ORDER BY seq LIMIT`` on a
        freshly filled outbox was planned as a scan of every unsent row, O(backlog) per batch)."""
        unsent = outbox.c.sent_at.is_(None)

        async def window(start: int) -> list[Any]:
            return list(
                (
                    await reader.execute(
                        select(outbox.c.seq, outbox.c.topic, outbox.c.key, outbox.c.envelope)
                        .where(unsent, outbox.c.seq > start, outbox.c.seq <= start + 4 * self._batch_size)
                        .order_by(outbox.c.seq)
                        .limit(self._batch_size)
                    )
                ).all()
            )

        async def read() -> list[Any]:
            rows = [] if after is None else await window(after)
            if not rows:  # the start, or a gap in seq wider than the window: jump to the next row
                first = select(func.min(outbox.c.seq)).where(unsent)
                nxt = await reader.scalar(first if after is None else first.where(outbox.c.seq > after))
                rows = [] if nxt is None else await window(nxt - 1)
            return rows

        # A short transaction per batch: nothing stays open while the broker acknowledges.
        async with reader.begin():
            return await read()

    async def _hand_over(self, producer: AIOKafkaProducer, rows: list[Any]) -> _Flight:
        """Put ``rows`` into one Kafka batch per partition, in order; the producer sends them."""
        open_batches: dict[tuple[str, int], tuple[BatchBuilder, list[int]]] = {}
        handed: list[_Part] = []
        partitions: dict[str, list[int]] = {}
        for seq, topic, key, envelope in rows:
            topic = self._namespace + topic
            parts = partitions.get(topic)
            if parts is None:
                parts = partitions[topic] = sorted(await producer.partitions_for(topic))
            key_bytes = key.encode() if key else None
            part = partition_for(key_bytes, parts) if key_bytes else random.choice(parts)  # noqa: S311 - spread
            tp = (topic, part)
            opened = open_batches.get(tp)
            if opened is None:
                opened = open_batches[tp] = (producer.create_batch(), [])
            batch, seqs = opened
            value = envelope.encode()
            if batch.append(key=key_bytes, value=value, timestamp=None, headers=_HEADERS) is None:
                # Full: send it, start the next.
                handed.append(_Part(tp, seqs, await self._send_batch(producer, batch, tp)))
                batch, seqs = open_batches[tp] = (producer.create_batch(), [])
                batch.append(key=key_bytes, value=value, timestamp=None, headers=_HEADERS)
            seqs.append(seq)
        for tp, (batch, seqs) in open_batches.items():
            handed.append(_Part(tp, seqs, await self._send_batch(producer, batch, tp)))
        return _Flight([r[0] for r in rows], handed)

    async def _send_batch(
        self, producer: AIOKafkaProducer, batch: BatchBuilder, tp: tuple[str, int]
    ) -> asyncio.Future[Any]:
        """Hand ``batch`` to the producer once the partition's previous batch is acknowledged; if
        that one failed, its error is raised here and this batch is never sent. Handed over, it
        could land after a failure the broker does not retry (a batch too large for the topic,
        say): the broker takes a new producer's next batch whatever its sequence number once its
        first batch failed, so it would come ahead of the failed rows' resend and break the key's
        order (test_outbox_pipeline)."""
        previous = self._partition_acks.get(tp)
        if previous is not None:
            await asyncio.shield(previous)  # cancelling this wait must not cancel the producer's future
        batch.close()  # complete: the producer sends it without lingering
        ack: asyncio.Future[Any] = await producer.send_batch(batch, tp[0], partition=tp[1])
        self._partition_acks[tp] = ack
        return ack

    async def _mark_sent(self, seqs: list[int], token: int) -> None:
        """Mark ``seqs`` sent, fenced by the lease: refused (LeaseLost) if another replica took
        it over. Its own connection and transaction: it runs while the reader fetches the next
        batch; committed at once, so a cut connection re-sends at most the batches in flight."""
        async with self._sessions() as session, session.begin():
            if dialect_name(session) == "postgresql":
                # One statement text whatever the batch's length (IN would render one per length).
                where = outbox.c.seq == any_(bindparam("seqs", seqs, type_=ARRAY(BigInteger())))
            else:
                where = outbox.c.seq.in_(seqs)
            marked = await affected_rows(
                session, update(outbox).where(where, self.lease.fence(token)).values(sent_at=utcnow())
            )
        if marked == 0 and seqs:
            raise LeaseLost(self.lease.name)

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
            count = await session.scalar(select(func.count()).select_from(outbox).where(outbox.c.sent_at.is_(None)))
        return int(count or 0)

    async def oldest_unsent_age(self) -> float:
        """Seconds since the oldest unsent event was written (0 when none): the publish stall."""
        async with self._sessions() as session:
            created = await session.scalar(
                select(outbox.c.created_at).where(outbox.c.sent_at.is_(None)).order_by(outbox.c.seq).limit(1)
            )
        return 0.0 if created is None else max((utcnow() - created).total_seconds(), 0.0)

    async def _housekeeping(self) -> None:
        # Every replica, holder or not, reports the backlog and the stall: a frozen holder's
        # stall shows on the others.
        async with self._sessions() as session, session.begin():
            await session.execute(delete(outbox).where(outbox.c.sent_at < utcnow() - self._retention))
        OUTBOX_BACKLOG.labels(self.service).set(await self.backlog())
        OUTBOX_OLDEST_UNSENT_AGE.labels(self.service).set(await self.oldest_unsent_age())
