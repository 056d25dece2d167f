"""Consumer runner: one group per service, the inbox for exactly-once effects, DLQ for poison.

For each message: parse the CloudEvents envelope, then in ONE transaction insert the
event's (source, id) into the inbox and apply the handler's effect; commit; only then
commit the Kafka offset. A redelivered event finds its inbox row and is skipped. A handler
that keeps failing sends the message to ``crm.<service>.dlq`` with the error and its origin
in headers, and consumption goes on. When the database itself is unreachable the runner
waits and retries instead: that is not the message's fault.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from datetime import UTC, datetime

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from pydantic import ValidationError
from sqlalchemy import insert
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

import tessera_shared.events.contracts  # noqa: F401 - every contract type is known
from tessera_shared import faults
from tessera_shared.db import unit_of_work
from tessera_shared.events.envelope import CloudEvent, EventData, event_model, parse_envelope
from tessera_shared.infra_tables import inbox
from tessera_shared.tasks import finish_or_cancel
from tessera_shared.tracing import SpanKind, span
from tessera_shared.observability import (
    CONSUMER_LAG,
    DLQ_MESSAGES,
    EVENTS_CONSUMED,
    child_traceparent,
    traceparent_var,
)

log = logging.getLogger(__name__)

Handler = Callable[[AsyncSession, CloudEvent, EventData], Awaitable[None]]


class PermanentError(Exception):
    """Raised by a handler when retrying cannot help: the message goes to the DLQ at once."""


def _is_transient(exc: BaseException) -> bool:
    if isinstance(exc, IntegrityError):
        return False
    if isinstance(exc, (OperationalError, InterfaceError)):
        return True
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(exc, (ConnectionError, TimeoutError, OSError))


class ConsumerRunner:
    def __init__(
        self,
        *,
        service: str,
        sessions: async_sessionmaker[AsyncSession],
        handlers: Mapping[str, Handler],
        consumer_factory: Callable[[], AIOKafkaConsumer],
        producer_factory: Callable[[], AIOKafkaProducer],
        dlq_topic: str,
        group_id: str,
        max_attempts: int = 5,
        retry_backoff: float = 0.2,
        tracer: Any = None,
    ) -> None:
        self._tracer = tracer
        self.service = service
        self._sessions = sessions
        self._handlers = dict(handlers)
        self._consumer_factory = consumer_factory
        self._producer_factory = producer_factory
        self._dlq_topic = dlq_topic
        self._group_id = group_id
        self._max_attempts = max_attempts
        self._backoff = retry_backoff
        self._consumer: AIOKafkaConsumer | None = None
        self._dlq_producer: AIOKafkaProducer | None = None
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.assigned = asyncio.Event()
        self.applied = 0
        self.duplicates = 0
        self.dead_lettered = 0
        # Test hook: called after the effect is committed and before the offset commit.
        self.after_effect: Callable[[ConsumerRecord], Awaitable[None]] | None = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"consumer-{self.service}")

    async def stop(self, timeout: float = 10.0) -> None:
        self._stopping.set()
        await finish_or_cancel(self._task, timeout)
        await self._close()

    async def _close(self) -> None:
        consumer, self._consumer = self._consumer, None
        producer, self._dlq_producer = self._dlq_producer, None
        if consumer is not None:
            await consumer.stop()
        if producer is not None:
            await producer.stop()

    async def _run(self) -> None:
        backoff = 0.2
        while not self._stopping.is_set():
            try:
                if self._consumer is None:
                    consumer = self._consumer_factory()
                    await consumer.start()
                    self._consumer = consumer
                await self._poll_once(self._consumer)
                backoff = 0.2
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("consumer failed, restarting", extra={"error": repr(exc), "backoff": backoff})
                await self._close()
                await self._sleep(backoff)
                backoff = min(backoff * 2, 10.0)
        await self._close()

    async def _sleep(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self._stopping.wait(), seconds * (1 + random.random() / 2))
        except TimeoutError:
            pass

    async def _poll_once(self, consumer: AIOKafkaConsumer) -> None:
        batches = await consumer.getmany(timeout_ms=500, max_records=200)
        if consumer.assignment():
            self.assigned.set()
        for tp, records in batches.items():
            done = None
            for record in records:
                if not await self._process(record):
                    break  # stopping: leave the rest uncommitted, they will be redelivered
                done = record
            if done is not None:
                await consumer.commit({tp: done.offset + 1})
        await self._record_lag(consumer)

    async def _record_lag(self, consumer: AIOKafkaConsumer) -> None:
        for tp in consumer.assignment():
            high = consumer.highwater(tp)
            if high is None:
                continue
            position = await consumer.position(tp)
            CONSUMER_LAG.labels(self.service, tp.topic, str(tp.partition)).set(max(high - position, 0))

    async def _process(self, record: ConsumerRecord) -> bool:
        """Apply one message's effect once; False only when stopping before it was done."""
        try:
            event = parse_envelope(record.value)
        except (ValidationError, ValueError) as exc:
            await self._dead_letter(record, exc, attempts=1, event_type="unparseable")
            return True
        if event_model(event.type) is None:
            # Not in the contract at all: a malformed or foreign message, not a newer fact.
            await self._dead_letter(record, LookupError(f"unknown event type {event.type!r}"), attempts=1,
                                    event_type="unknown")
            return True
        handler = self._handlers.get(event.type)
        if handler is None:
            EVENTS_CONSUMED.labels(self.service, event.type, "ignored").inc()
            return True
        if self._tracer is not None:
            # The consumer's span continues the trace of the request that produced the event.
            with span(self._tracer, f"consume {event.type}", parent=event.traceparent, kind=SpanKind.CONSUMER,
                      attributes={"messaging.system": "kafka", "messaging.destination.name": record.topic,
                                  "messaging.message.id": event.id}):
                return await self._apply_with_retries(record, event, handler)
        token = traceparent_var.set(child_traceparent(event.traceparent))
        try:
            return await self._apply_with_retries(record, event, handler)
        finally:
            traceparent_var.reset(token)

    async def _apply_with_retries(self, record: ConsumerRecord, event: CloudEvent, handler: Handler) -> bool:
        attempts = 0
        while True:
            attempts += 1
            try:
                applied = await self._apply(record, event, handler)
            except (ValidationError, LookupError, PermanentError) as exc:
                await self._dead_letter(record, exc, attempts=attempts, event_type=event.type)
                return True
            except Exception as exc:
                if _is_transient(exc):
                    if self._stopping.is_set():
                        return False
                    log.warning("transient failure, retrying", extra={"event_id": event.id, "error": repr(exc)})
                    await self._sleep(min(self._backoff * 2 ** min(attempts, 6), 15.0))
                    attempts -= 1  # infrastructure trouble does not count against the message
                    continue
                if attempts >= self._max_attempts:
                    await self._dead_letter(record, exc, attempts=attempts, event_type=event.type)
                    return True
                log.warning("handler failed, retrying",
                            extra={"event_id": event.id, "attempt": attempts, "error": repr(exc)})
                await self._sleep(self._backoff * 2 ** (attempts - 1))
                continue
            outcome = "applied" if applied else "duplicate"
            EVENTS_CONSUMED.labels(self.service, event.type, outcome).inc()
            if applied:
                self.applied += 1
            else:
                self.duplicates += 1
            if applied:
                faults.point("consumer.after_effect")
            if self.after_effect is not None:
                await self.after_effect(record)
            return True

    async def _apply(self, record: ConsumerRecord, event: CloudEvent, handler: Handler) -> bool:
        data = event.typed_data()
        async with unit_of_work(self._sessions) as session:
            try:
                async with session.begin_nested():
                    await session.execute(
                        insert(inbox).values(
                            source=event.source,
                            event_id=event.id,
                            event_type=event.type,
                            topic=record.topic,
                            partition=record.partition,
                            offset=record.offset,
                            processed_at=datetime.now(UTC),
                        )
                    )
            except IntegrityError:
                return False  # already applied: this is a redelivery
            await handler(session, event, data)
        return True

    async def _dead_letter(self, record: ConsumerRecord, exc: BaseException, *, attempts: int, event_type: str) -> None:
        log.error(
            "message sent to the dead-letter topic",
            extra={"topic": record.topic, "partition": record.partition, "offset": record.offset,
                   "event_type": event_type, "error": repr(exc)},
        )
        headers = [
            ("dlq-error", repr(exc)[:4000].encode()),
            ("dlq-error-type", type(exc).__name__.encode()),
            ("dlq-origin-topic", record.topic.encode()),
            ("dlq-origin-partition", str(record.partition).encode()),
            ("dlq-origin-offset", str(record.offset).encode()),
            ("dlq-consumer-group", self._group_id.encode()),
            ("dlq-attempts", str(attempts).encode()),
            ("dlq-failed-at", datetime.now(UTC).isoformat().encode()),
            *[(k, v) for k, v in (record.headers or ()) if not k.startswith("dlq-")],
        ]
        backoff = 0.5
        while True:
            try:
                if self._dlq_producer is None:
                    producer = self._producer_factory()
                    await producer.start()
                    self._dlq_producer = producer
                await self._dlq_producer.send_and_wait(
                    self._dlq_topic, value=record.value, key=record.key, headers=headers
                )
                break
            except Exception as exc2:
                # The offset must not move past a message that is neither applied nor parked.
                log.warning("dead-letter publish failed, retrying", extra={"error": repr(exc2)})
                if self._dlq_producer is not None:
                    await self._dlq_producer.stop()
                    self._dlq_producer = None
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 10.0)
        self.dead_lettered += 1
        DLQ_MESSAGES.labels(self.service).inc()
        EVENTS_CONSUMED.labels(self.service, event_type, "dead_lettered").inc()
