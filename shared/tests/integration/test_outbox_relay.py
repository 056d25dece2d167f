"""The transactional outbox against real Kafka and real PostgreSQL (and SQLite)."""

from __future__ import annotations

import uuid

import pytest
from aiokafka.errors import KafkaError
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tessera_shared.db import unit_of_work
from tessera_shared.events import parse_envelope
from tessera_shared.infra_tables import outbox
from tessera_shared.kafka import make_producer
from tessera_shared.outbox import OutboxRelay, publish
from tessera_shared.testing.kafka import read_topic

from .conftest import Ping


def relay_for(sessions: async_sessionmaker[AsyncSession], bootstrap: str, namespace: str) -> OutboxRelay:
    return OutboxRelay(
        service="customer",
        sessions=sessions,
        namespace=namespace,
        producer_factory=lambda: make_producer(bootstrap, client_id="test-relay"),
    )


class Boom(Exception):
    pass


async def test_rolled_back_transaction_publishes_nothing(sessions, kafka_bootstrap, topics) -> None:
    customer = uuid.uuid4()
    with pytest.raises(Boom):
        async with unit_of_work(sessions) as s:
            await publish(s, Ping(ping_no=1, label="rolled-back"), subject=customer)
            raise Boom
    async with unit_of_work(sessions) as s:
        await publish(s, Ping(ping_no=2, label="committed"), subject=customer)
    relay = relay_for(sessions, kafka_bootstrap, topics)
    try:
        assert await relay.relay_once() == 1
        assert await relay.relay_once() == 0
    finally:
        await relay.stop()
    records = await read_topic(kafka_bootstrap, f"{topics}crm.customer")
    assert [parse_envelope(r.value).data["label"] for r in records] == ["committed"]


async def test_published_event_is_a_keyed_cloudevent(sessions, kafka_bootstrap, topics) -> None:
    customer = uuid.uuid4()
    async with unit_of_work(sessions) as s:
        envelope = await publish(s, Ping(ping_no=7), subject=customer)
    relay = relay_for(sessions, kafka_bootstrap, topics)
    try:
        await relay.relay_once()
        assert await relay.backlog() == 0
    finally:
        await relay.stop()
    (record,) = await read_topic(kafka_bootstrap, f"{topics}crm.customer", expect=1)
    assert record.key == str(customer).encode()
    assert dict(record.headers)["content-type"] == b"application/cloudevents+json"
    event = parse_envelope(record.value)
    assert event.id == envelope.id
    assert event.specversion == "1.0"
    assert event.source == "/crm/customer"
    assert event.type == "test.ping"
    assert event.subject == str(customer)
    assert event.dataschema == "http://127.0.0.1:8000/api/v1/events/schemas/test.ping"
    assert event.time.tzinfo is not None
    assert event.typed_data() == Ping(ping_no=7)


async def test_events_of_one_customer_keep_their_order(sessions, kafka_bootstrap, topics) -> None:
    customers = [uuid.uuid4() for _ in range(5)]
    for n in range(40):
        async with unit_of_work(sessions) as s:
            await publish(s, Ping(ping_no=n), subject=customers[n % 5])
    relay = relay_for(sessions, kafka_bootstrap, topics)
    try:
        assert await relay.relay_once() == 40
    finally:
        await relay.stop()
    records = await read_topic(kafka_bootstrap, f"{topics}crm.customer", expect=40)
    for customer in customers:
        mine = [parse_envelope(r.value).data["ping_no"] for r in records if r.key == str(customer).encode()]
        assert mine == sorted(mine) and len(mine) == 8


async def test_backlog_counts_unsent_events(sessions, kafka_bootstrap, topics) -> None:
    async with unit_of_work(sessions) as s:
        for n in range(3):
            await publish(s, Ping(ping_no=n), subject=uuid.uuid4())
    relay = relay_for(sessions, kafka_bootstrap, topics)
    try:
        assert await relay.backlog() == 3
        await relay.relay_once()
        assert await relay.backlog() == 0
    finally:
        await relay.stop()


async def test_broker_unreachable_keeps_rows_for_later(sessions, kafka_bootstrap, topics) -> None:
    async with unit_of_work(sessions) as s:
        await publish(s, Ping(ping_no=1), subject=uuid.uuid4())
    dead = OutboxRelay(
        service="customer",
        sessions=sessions,
        namespace=topics,
        producer_factory=lambda: make_producer("127.0.0.1:1", client_id="dead"),
    )
    with pytest.raises(KafkaError):  # no broker there
        await dead.relay_once()
    await dead.stop()
    async with sessions() as s:
        attempts = await s.scalar(select(outbox.c.attempts))
        assert attempts == 1
        assert await s.scalar(select(func.count()).select_from(outbox).where(outbox.c.sent_at.is_(None))) == 1
    relay = relay_for(sessions, kafka_bootstrap, topics)
    try:
        assert await relay.relay_once() == 1
    finally:
        await relay.stop()


async def test_publish_many_writes_what_publish_writes_and_wakes_the_relay(sessions) -> None:
    from tessera_shared.outbox import attach_wakeup, outbox_row, publish_many

    woken: list[bool] = []
    attach_wakeup(sessions, lambda: woken.append(True))
    subject = uuid.uuid4()
    async with unit_of_work(sessions) as s:
        one = await publish(s, Ping(ping_no=1), subject=subject)
    async with unit_of_work(sessions) as s:
        await publish_many(s, [outbox_row(Ping(ping_no=n), subject=subject) for n in (2, 3)])
    async with unit_of_work(sessions) as s:
        await publish_many(s, [])  # nothing to write, nothing to wake
    assert woken == [True, True]
    async with unit_of_work(sessions) as s:
        rows = (
            await s.execute(select(outbox.c.key, outbox.c.event_type, outbox.c.envelope).order_by(outbox.c.seq))
        ).all()
    assert [(k, t) for k, t, _ in rows] == [(str(subject), "test.ping")] * 3
    envelopes = [parse_envelope(e.encode()) for _, _, e in rows]
    assert [e.data["ping_no"] for e in envelopes] == [1, 2, 3]
    assert {e.subject for e in envelopes} == {one.subject} and len({e.id for e in envelopes}) == 3
