"""The consumer runner against real Kafka: inbox dedup, DLQ for poison, offsets after effects."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Awaitable, Callable

from aiokafka import AIOKafkaProducer, ConsumerRecord
from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tessera_shared.consumer import ConsumerRunner
from tessera_shared.db import unit_of_work
from tessera_shared.events import CloudEvent, build_event
from tessera_shared.infra_tables import inbox
from tessera_shared.kafka import make_consumer, make_producer
from tessera_shared.outbox import OutboxRelay, publish
from tessera_shared.testing.kafka import read_topic

from .conftest import Ping, effects


async def apply_ping(session: AsyncSession, event: CloudEvent, data: Ping) -> None:
    if data.fail:
        raise RuntimeError(f"handler cannot apply ping {data.ping_no}")
    await session.execute(insert(effects).values(ping_no=data.ping_no, label=data.label))


def runner_for(
    sessions: async_sessionmaker[AsyncSession], bootstrap: str, namespace: str, group: str
) -> ConsumerRunner:
    return ConsumerRunner(
        service="billing",
        sessions=sessions,
        handlers={Ping.event_type: apply_ping},
        consumer_factory=lambda: make_consumer(
            bootstrap, group_id=group, client_id="test", topics=[f"{namespace}crm.customer"]
        ),
        producer_factory=lambda: make_producer(bootstrap, client_id="test-dlq"),
        dlq_topic=f"{namespace}crm.billing.dlq",
        group_id=group,
        max_attempts=2,
        retry_backoff=0.01,
    )


async def effect_rows(sessions: async_sessionmaker[AsyncSession]) -> list[int]:
    async with sessions() as s:
        return sorted((await s.execute(select(effects.c.ping_no))).scalars())


async def wait_until(predicate: Callable[[], Awaitable[bool]], timeout: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError("condition not reached")
        await asyncio.sleep(0.05)


async def produce(bootstrap: str, topic: str, values: list[tuple[bytes | None, bytes]]) -> None:
    producer: AIOKafkaProducer = make_producer(bootstrap, client_id="test-producer")
    await producer.start()
    try:
        for key, value in values:
            await producer.send_and_wait(topic, value=value, key=key)
    finally:
        await producer.stop()


def ping_bytes(n: int, key: uuid.UUID, **kw: object) -> tuple[bytes, bytes]:
    return str(key).encode(), build_event(Ping(ping_no=n, **kw), subject=key).to_json()


async def test_relay_dying_after_ack_leads_to_one_effect(sessions, kafka_bootstrap, topics) -> None:
    customer = uuid.uuid4()
    async with unit_of_work(sessions) as s:
        await publish(s, Ping(ping_no=1), subject=customer)
    crashing = OutboxRelay(
        service="customer",
        sessions=sessions,
        namespace=topics,
        producer_factory=lambda: make_producer(kafka_bootstrap, client_id="r1"),
    )

    def die() -> None:
        raise SystemError("relay died after Kafka acknowledged")

    crashing.fail_after_ack = die
    with contextlib.suppress(SystemError):
        await crashing.relay_once()
    await crashing.stop()
    restarted = OutboxRelay(
        service="customer",
        sessions=sessions,
        namespace=topics,
        producer_factory=lambda: make_producer(kafka_bootstrap, client_id="r2"),
    )
    try:
        assert await restarted.relay_once() == 1  # the row was never marked sent: sent again
    finally:
        await restarted.stop()
    assert len(await read_topic(kafka_bootstrap, f"{topics}crm.customer", expect=2)) == 2

    runner = runner_for(sessions, kafka_bootstrap, topics, f"g-{uuid.uuid4().hex[:8]}")
    runner.start()
    try:
        await wait_until(lambda: asyncio.sleep(0, runner.applied + runner.duplicates == 2))
    finally:
        await runner.stop()
    assert (runner.applied, runner.duplicates) == (1, 1)
    assert await effect_rows(sessions) == [1]


async def test_poison_goes_to_dlq_with_error_and_origin_and_the_next_is_processed(
    sessions, kafka_bootstrap, topics
) -> None:
    key = uuid.uuid4()
    topic = f"{topics}crm.customer"
    await produce(
        kafka_bootstrap,
        topic,
        [
            (str(key).encode(), b"{this is not json"),
            ping_bytes(1, key, fail=True),
            ping_bytes(2, key),
        ],
    )
    runner = runner_for(sessions, kafka_bootstrap, topics, f"g-{uuid.uuid4().hex[:8]}")
    runner.start()
    try:
        await wait_until(lambda: asyncio.sleep(0, runner.applied == 1 and runner.dead_lettered == 2))
    finally:
        await runner.stop()
    assert await effect_rows(sessions) == [2]
    dlq = await read_topic(kafka_bootstrap, f"{topics}crm.billing.dlq", expect=2)
    by_value = {r.value: dict(r.headers) for r in dlq}
    garbage = by_value[b"{this is not json"]
    assert garbage[b"dlq-origin-topic".decode()] == topic.encode()
    assert garbage["dlq-error-type"] == b"ValidationError"
    failing = next(h for v, h in by_value.items() if v != b"{this is not json")
    assert b"handler cannot apply ping 1" in failing["dlq-error"]
    assert failing["dlq-attempts"] == b"2"
    assert failing["dlq-origin-partition"].isdigit() and failing["dlq-origin-offset"] == b"1"
    assert all(r.key == str(key).encode() for r in dlq)


async def test_duplicate_delivery_has_one_effect(sessions, kafka_bootstrap, topics) -> None:
    key = uuid.uuid4()
    message = ping_bytes(5, key)
    await produce(kafka_bootstrap, f"{topics}crm.customer", [message, message, message])
    runner = runner_for(sessions, kafka_bootstrap, topics, f"g-{uuid.uuid4().hex[:8]}")
    runner.start()
    try:
        await wait_until(lambda: asyncio.sleep(0, runner.applied + runner.duplicates == 3))
    finally:
        await runner.stop()
    assert await effect_rows(sessions) == [5]
    async with sessions() as s:
        assert await s.scalar(select(func.count()).select_from(inbox)) == 1


async def test_crash_between_effect_commit_and_offset_commit_applies_once(sessions, kafka_bootstrap, topics) -> None:
    key = uuid.uuid4()
    await produce(kafka_bootstrap, f"{topics}crm.customer", [ping_bytes(1, key), ping_bytes(2, key)])
    group = f"g-{uuid.uuid4().hex[:8]}"
    first = runner_for(sessions, kafka_bootstrap, topics, group)
    crashed = asyncio.Event()

    async def crash(record: ConsumerRecord) -> None:
        crashed.set()
        await asyncio.Event().wait()  # the process hangs here until it is killed

    first.after_effect = crash
    first.start()
    await asyncio.wait_for(crashed.wait(), 30)
    await first.stop(timeout=0.1)  # killed: the task is cancelled, no offset is committed
    # The records of one poll commit together: the crash leaves one or both applied.
    before = await effect_rows(sessions)
    assert before in ([1], [1, 2])

    second = runner_for(sessions, kafka_bootstrap, topics, group)
    second.start()
    try:
        await wait_until(lambda: asyncio.sleep(0, second.applied + second.duplicates == 2))
    finally:
        await second.stop()
    assert (second.applied, second.duplicates) == (2 - len(before), len(before))  # redelivered, skipped
    assert await effect_rows(sessions) == [1, 2]


async def test_offsets_are_committed_after_effects(sessions, kafka_bootstrap, topics) -> None:
    key = uuid.uuid4()
    await produce(kafka_bootstrap, f"{topics}crm.customer", [ping_bytes(n, key) for n in range(4)])
    group = f"g-{uuid.uuid4().hex[:8]}"
    runner = runner_for(sessions, kafka_bootstrap, topics, group)
    runner.start()
    try:
        await wait_until(lambda: asyncio.sleep(0, runner.applied == 4))
    finally:
        await runner.stop()
    again = runner_for(sessions, kafka_bootstrap, topics, group)
    again.start()
    try:
        await asyncio.wait_for(again.assigned.wait(), 30)
        await asyncio.sleep(1.0)
    finally:
        await again.stop()
    assert (again.applied, again.duplicates) == (0, 0)  # nothing redelivered to the same group


async def test_unknown_types_are_poison_and_unhandled_contract_types_are_skipped(
    sessions, kafka_bootstrap, topics
) -> None:
    from datetime import UTC, datetime

    from tessera_shared.events.contracts import CustomerErased

    key = uuid.uuid4()
    foreign = build_event(Ping(ping_no=1), subject=key).model_copy(update={"type": "no.such_fact"})
    unhandled = build_event(
        CustomerErased(customer_id=key, requested_by="admin", erased_at=datetime.now(UTC)), subject=key
    )
    await produce(
        kafka_bootstrap,
        f"{topics}crm.customer",
        [
            (str(key).encode(), foreign.to_json()),
            (str(key).encode(), unhandled.to_json()),
            ping_bytes(3, key),
        ],
    )
    runner = runner_for(sessions, kafka_bootstrap, topics, f"g-{uuid.uuid4().hex[:8]}")
    runner.start()
    try:
        await wait_until(lambda: asyncio.sleep(0, runner.applied == 1))
    finally:
        await runner.stop()
    assert runner.dead_lettered == 1
    (parked,) = await read_topic(kafka_bootstrap, f"{topics}crm.billing.dlq", expect=1)
    assert b"unknown event type 'no.such_fact'" in dict(parked.headers)["dlq-error"]
    assert await effect_rows(sessions) == [3]
