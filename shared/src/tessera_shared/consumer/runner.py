"""Consumer runner: one group per service, the inbox for exactly-once effects, DLQ for poison.

A poll's records are first applied in one transaction (of at most ROUND_RECORDS records
handled one by one; batched handlers' records without limit): one INSERT claims their
(source, id) in the inbox (a redelivered event finds its row and is skipped), the handlers apply
the new ones' effects, the transaction commits, and only then are the Kafka offsets committed. If a
handler fails, that transaction is rolled back and the poll is applied again carefully, in
rounds of one transaction where each record has its inbox row and effect in a savepoint of its
own: a failing record rolls back alone, holds back the rest of its partition, and after its
retries goes to ``crm.<service>.dlq`` with the error and its origin in headers; consumption goes
on. When the database itself is unreachable the runner waits and retries instead: that is not
the message's fault.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections import deque
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.errors import InvalidSessionTimeoutError
from opentelemetry.trace import SpanKind
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

import tessera_shared.events.contracts  # noqa: F401 - every contract type is known
from tessera_shared import faults
from tessera_shared.consumer.dead_letters import DeadLetters
from tessera_shared.consumer.handlers import Batched, Handler, PermanentError
from tessera_shared.consumer.items import Item, is_transient, runs
from tessera_shared.db import unit_of_work, upsert
from tessera_shared.events.envelope import event_model, parse_envelope
from tessera_shared.infra_tables import inbox
from tessera_shared.kafka_log import OUTAGE, is_kafka_failure
from tessera_shared.observability import (
    CONSUMER_LAG,
    CONSUMER_TRANSACTIONS,
    DLQ_MESSAGES,
    EVENTS_CONSUMED,
    child_traceparent,
    traceparent_var,
)
from tessera_shared.tasks import finish_or_cancel
from tessera_shared.tracing import span

log = logging.getLogger(__name__)

# Records per careful round: PostgreSQL keeps 64 subtransactions per transaction in shared memory
# (more overflow to pg_subtrans and slow every snapshot), and the savepoints' statements stay in
# the connection's prepared-statement cache (100) beside the handlers'.
ROUND_RECORDS = 32
# Records per poll. Without failures they are applied without savepoints, a batched handler's
# all in one transaction, the others' ROUND_RECORDS per transaction.
POLL_RECORDS = 200


class ConsumerRunner:
    def __init__(
        self,
        *,
        service: str,
        sessions: async_sessionmaker[AsyncSession],
        handlers: Mapping[str, Handler[Any]],
        consumer_factory: Callable[[], AIOKafkaConsumer],
        producer_factory: Callable[[], AIOKafkaProducer],
        dlq_topic: str,
        group_id: str,
        max_attempts: int = 5,
        retry_backoff: float = 0.2,
        tracer: Any = None,
        fallback_factory: Callable[[], AIOKafkaConsumer] | None = None,
    ) -> None:
        """``fallback_factory`` makes the consumer used from then on when the broker refuses
        ``consumer_factory``'s session timeout (below its group.min.session.timeout.ms)."""
        self._tracer = tracer
        self.service = service
        self._sessions = sessions
        self._handlers = dict(handlers)
        self._consumer_factory = consumer_factory
        self._fallback_factory = fallback_factory
        self._dead_letters = DeadLetters(producer_factory, dlq_topic, group_id)
        self._max_attempts = max_attempts
        self._backoff = retry_backoff
        self._consumer: AIOKafkaConsumer | None = None
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
        if consumer is not None:
            await consumer.stop()
        await self._dead_letters.close()

    async def _run(self) -> None:
        backoff = 0.2
        while not self._stopping.is_set():
            try:
                if self._consumer is None:
                    consumer = self._consumer_factory()
                    try:
                        await consumer.start()
                    except BaseException:
                        await consumer.stop()  # else "Unclosed AIOKafkaConsumer" at every retry
                        raise
                    self._consumer = consumer
                    OUTAGE.recovered("consumer")
                await self._poll_once(self._consumer)
                backoff = 0.2
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if isinstance(exc, InvalidSessionTimeoutError) and self._fallback_factory is not None:
                    log.error(
                        "the broker refuses the consumer's session timeout (its group.min.session.timeout.ms is"
                        " higher): joining with the broker-safe session instead; a dead replica's partitions"
                        " then move only after that (docs/operations.md, 'Consumer groups and rejoin')"
                    )
                    self._consumer_factory, self._fallback_factory = self._fallback_factory, None
                    await self._close()
                    continue
                if is_kafka_failure(exc):
                    OUTAGE.failed("consumer", repr(exc))
                else:
                    log.warning("consumer failed, restarting", extra={"error": repr(exc), "backoff": backoff})
                await self._close()
                await self._sleep(backoff)
                backoff = min(backoff * 2, 10.0)
        await self._close()

    async def _sleep(self, seconds: float) -> None:
        with suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds * (1 + random.random() / 2))  # noqa: S311 - jitter

    async def _poll_once(self, consumer: AIOKafkaConsumer) -> None:
        batches = await self._poll(consumer)
        if batches is None:
            return  # stopping: nothing was taken, the consumer leaves the group now
        if consumer.assignment():
            self.assigned.set()
        pending = {tp: deque(self._prepare(r) for r in records) for tp, records in batches.items() if records}
        await self._drain(consumer, pending)
        await self._record_lag(consumer)

    async def _poll(self, consumer: AIOKafkaConsumer) -> dict[TopicPartition, list[ConsumerRecord]] | None:
        """The next records, or None when a stop comes first: a stop does not wait for the poll's
        timeout, so the consumer's LeaveGroup goes out at once (its records are fetched again by
        whoever gets the partitions; no offset moved)."""
        poll = asyncio.ensure_future(consumer.getmany(timeout_ms=500, max_records=POLL_RECORDS))
        stopping = asyncio.ensure_future(self._stopping.wait())
        try:
            await asyncio.wait({poll, stopping}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopping.cancel()
            if not poll.done():
                poll.cancel()
                await asyncio.gather(poll, return_exceptions=True)
        return None if poll.cancelled() else poll.result()

    def _prepare(self, record: ConsumerRecord) -> Item:
        """What to do with one message: apply it, skip it, or park it at once."""
        try:
            event = parse_envelope(record.value)
        except (ValidationError, ValueError) as exc:
            return Item(record, park=(exc, "unparseable"))
        if event_model(event.type) is None:
            # Not in the contract at all: a malformed or foreign message, not a newer fact.
            return Item(record, park=(LookupError(f"unknown event type {event.type!r}"), "unknown"))
        handler = self._handlers.get(event.type)
        if handler is None:
            EVENTS_CONSUMED.labels(self.service, event.type, "ignored").inc()
        return Item(record, event=event, handler=handler)

    async def _drain(self, consumer: AIOKafkaConsumer, pending: dict[TopicPartition, deque[Item]]) -> None:
        """Apply a poll's records, then commit their offsets: in transactions without savepoints
        (_apply_whole), or after a handler failed, carefully in rounds of one transaction each until
        the failing record is settled (applied or parked), then without savepoints again.

        In a careful round a record whose handler fails is rolled back alone (its savepoint) and
        stops its partition for the round; the records before it are committed, it is retried or
        parked, and the records after it wait for it: a partition's order is kept.
        """
        outages = 0
        whole, solo = True, False
        while pending:
            for items in pending.values():
                for item in items:  # a transaction rolled back earlier left nothing done
                    item.done = item.applied = False
            try:
                if whole:
                    await self._apply_whole(pending)
                    failed = {}
                else:
                    failed = await self._apply_round(pending, solo=solo)
                CONSUMER_TRANSACTIONS.labels(self.service, "poll" if whole else "careful").inc()
            except Exception as exc:
                if not is_transient(exc):
                    if solo:
                        raise
                    if whole:
                        whole = False  # a handler failed: apply the poll again, a savepoint each
                    else:
                        solo = True  # the commit itself failed: find the record, one at a time
                    continue
                # Nothing of the round was committed. Not the messages' fault: retry without limit.
                if self._stopping.is_set():
                    return  # the offsets stay where they are: redelivered after the restart
                outages += 1
                log.warning("transient failure, retrying", extra={"error": repr(exc)})
                await self._sleep(min(self._backoff * 2 ** min(outages, 6), 15.0))
                continue
            outages = 0
            delay = 0.0
            offsets: dict[TopicPartition, int] = {}
            for tp, items in list(pending.items()):
                while items and items[0].done:
                    item = items.popleft()
                    await self._settle(item)
                    offsets[tp] = item.record.offset + 1
                if tp in failed:
                    item, error = failed[tp]
                    event = item.target[0]
                    item.attempts += 1
                    if (
                        isinstance(error, (ValidationError, LookupError, PermanentError))
                        or item.attempts >= self._max_attempts
                    ):
                        await self._dead_letter(item.record, error, attempts=item.attempts, event_type=event.type)
                        offsets[tp] = items.popleft().record.offset + 1
                    else:
                        log.warning(
                            "handler failed, retrying",
                            extra={"event_id": event.id, "attempt": item.attempts, "error": repr(error)},
                        )
                        delay = max(delay, self._backoff * 2 ** (item.attempts - 1))
                if not items:
                    del pending[tp]
            if offsets:
                await consumer.commit(offsets)
            if not whole and not solo and not delay:
                whole = True  # nothing waits for a retry: the rest of the poll in one transaction
            if pending and self._stopping.is_set():
                return  # the rest is redelivered after the restart
            if delay:
                await self._sleep(delay)

    async def _settle(self, item: Item) -> None:
        """After the round's commit, before the offset's: count, park, and the test hooks."""
        if item.park is not None:
            exc, kind = item.park
            await self._dead_letter(item.record, exc, attempts=1, event_type=kind)
            return
        if item.handler is None:
            return
        EVENTS_CONSUMED.labels(self.service, item.target[0].type, "applied" if item.applied else "duplicate").inc()
        if item.applied:
            self.applied += 1
            faults.point("consumer.after_effect")
        else:
            self.duplicates += 1
        if self.after_effect is not None:
            await self.after_effect(item.record)

    async def _record_lag(self, consumer: AIOKafkaConsumer) -> None:
        for tp in consumer.assignment():
            high = consumer.highwater(tp)
            if high is None:
                continue
            position = await consumer.position(tp)
            CONSUMER_LAG.labels(self.service, tp.topic, str(tp.partition)).set(max(high - position, 0))

    async def _apply_whole(self, pending: dict[TopicPartition, deque[Item]]) -> None:
        """The pending records in one transaction without savepoints: one INSERT claims the new
        events in the inbox, then their handlers run in each partition's order. Any failure
        rolls it all back (the caller then applies the records carefully).

        Records of batched handlers all go in (at most ``Batched.limit`` of a handler that sets one);
        records handled one by one at most ROUND_RECORDS per transaction, so that their locks (a
        billing total's row, say) are not held for a whole poll's worth of work; the rest, from the
        first record past a limit on, wait for the next transaction."""
        items: list[Item] = []
        singles = 0
        batched: dict[int, int] = {}  # records of each batched handler with a limit
        over = False
        for item in (item for queue in pending.values() for item in queue):
            handler = item.handler
            if handler is not None and not isinstance(handler, Batched):
                singles += 1
                over = over or singles > ROUND_RECORDS
            elif isinstance(handler, Batched) and handler.limit is not None:
                batched[id(handler)] = taken = batched.get(id(handler), 0) + 1
                over = over or taken > handler.limit
            if over:
                break  # the rest waits for the next transaction (a partition's order is kept)
            items.append(item)
        async with unit_of_work(self._sessions) as session:
            claimed = await self._claim(session, [item for item in items if item.handler is not None])
            for run in runs([item for item in items if item in claimed]):
                handler = run[0].target[1]
                events = [(event, event.typed_data()) for event in (item.target[0] for item in run)]
                try:
                    with self._consuming(run[0]):
                        if isinstance(handler, Batched):
                            await handler.many(session, events)
                        else:
                            await handler(session, *events[0])
                except Exception as exc:
                    if len(run) == 1 and not is_transient(exc):
                        run[0].attempts += 1  # its first attempt: the careful rounds make the others
                    raise
                for item in run:
                    item.applied = True
        for item in items:
            item.done = True

    async def _claim(self, session: AsyncSession, items: list[Item]) -> set[Item]:
        """The items whose events are new: their inbox rows are inserted by one statement. An
        event delivered twice within the poll is claimed by its first record."""
        first: dict[tuple[str, str], Item] = {}
        for item in items:
            event = item.target[0]
            first.setdefault((event.source, event.id), item)
        if not first:
            return set()
        now = datetime.now(UTC)
        rows = [
            {
                "source": source,
                "event_id": event_id,
                "event_type": item.target[0].type,
                "topic": item.record.topic,
                "partition": item.record.partition,
                "offset": item.record.offset,
                "processed_at": now,
            }
            for (source, event_id), item in first.items()
        ]
        stmt = upsert(session, inbox).on_conflict_do_nothing().returning(inbox.c.source, inbox.c.event_id)
        new = (await session.execute(stmt, rows)).all()
        return {first[(source, event_id)] for source, event_id in new}

    async def _apply_round(
        self, pending: dict[TopicPartition, deque[Item]], *, solo: bool
    ) -> dict[TopicPartition, tuple[Item, Exception]]:
        """One transaction over up to ROUND_RECORDS records, each partition's in order, each in its
        own savepoint; returns each partition's failed record (the records after it wait).
        ``solo`` applies only the first record, so that a failure no savepoint caught has one owner."""
        failed: dict[TopicPartition, tuple[Item, Exception]] = {}
        budget = 1 if solo else ROUND_RECORDS
        current: tuple[TopicPartition, Item] | None = None
        try:
            async with unit_of_work(self._sessions) as session:
                for tp, items in pending.items():
                    for item in items:
                        if budget == 0:
                            break
                        if item.handler is not None:
                            budget -= 1
                            current = (tp, item)
                            try:
                                item.applied = await self._traced(session, item)
                            except Exception as exc:
                                if is_transient(exc):
                                    raise  # the connection is gone: the whole round is retried
                                failed[tp] = (item, exc)
                                break
                        item.done = True
        except Exception as exc:
            if not solo or current is None or is_transient(exc):
                raise
            tp, item = current
            item.done = False
            return {tp: (item, exc)}
        return failed

    async def _traced(self, session: AsyncSession, item: Item) -> bool:
        with self._consuming(item):
            return await self._apply(session, item)

    @contextmanager
    def _consuming(self, item: Item) -> Iterator[None]:
        """The handler's context: its span continues the trace of the request that produced the
        event (or, without a tracer, the events it publishes carry that trace on)."""
        event = item.target[0]
        if self._tracer is not None:
            with span(
                self._tracer,
                f"consume {event.type}",
                parent=event.traceparent,
                kind=SpanKind.CONSUMER,
                attributes={
                    "messaging.system": "kafka",
                    "messaging.destination.name": item.record.topic,
                    "messaging.message.id": event.id,
                },
            ):
                yield
            return
        token = traceparent_var.set(child_traceparent(event.traceparent))
        try:
            yield
        finally:
            traceparent_var.reset(token)

    async def _apply(self, session: AsyncSession, item: Item) -> bool:
        """The inbox row and the handler's effect, in a savepoint; False for a redelivery."""
        event, handler = item.target
        data = event.typed_data()
        async with session.begin_nested():
            if item not in await self._claim(session, [item]):
                return False  # already applied: this is a redelivery
            await handler(session, event, data)
        return True

    async def _dead_letter(self, record: ConsumerRecord, exc: BaseException, *, attempts: int, event_type: str) -> None:
        await self._dead_letters.park(record, exc, attempts=attempts, event_type=event_type)
        self.dead_lettered += 1
        DLQ_MESSAGES.labels(self.service).inc()
        EVENTS_CONSUMED.labels(self.service, event_type, "dead_lettered").inc()
