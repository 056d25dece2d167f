"""The relay keeps several batches in flight: order, marking and recovery against real Kafka."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import KafkaError, MessageSizeTooLargeError
from aiokafka.partitioner import murmur2 as aiokafka_murmur2
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tessera_shared.db import unit_of_work
from tessera_shared.events import parse_envelope
from tessera_shared.infra_tables import outbox
from tessera_shared.kafka import make_producer, murmur2
from tessera_shared.outbox import OutboxRelay, publish
from tessera_shared.testing.kafka import read_topic
from tessera_shared.testing.waiting import eventually

from .conftest import Ping


def relay_for(
    sessions: async_sessionmaker[AsyncSession], bootstrap: str, namespace: str, batch_size: int
) -> OutboxRelay:
    return OutboxRelay(
        service="customer",
        sessions=sessions,
        namespace=namespace,
        batch_size=batch_size,
        producer_factory=lambda: make_producer(bootstrap, client_id="test-relay"),
    )


async def publish_pings(
    sessions: async_sessionmaker[AsyncSession], key: uuid.UUID, numbers: range, big: int | None = None
) -> None:
    for n in numbers:
        async with unit_of_work(sessions) as s:
            await publish(s, Ping(ping_no=n, label="x" * 6000 if n == big else "ping"), subject=key)


async def relay_all(relay: OutboxRelay) -> int:
    """What the relay's task does: cycles until one finds nothing to send."""
    total = 0
    while sent := await relay.relay_once():
        total += sent
    return total


async def sent_seqs(sessions: async_sessionmaker[AsyncSession]) -> tuple[list[int], list[int]]:
    async with sessions() as s:
        rows = (await s.execute(select(outbox.c.seq, outbox.c.sent_at).order_by(outbox.c.seq))).all()
    return [r.seq for r in rows if r.sent_at is not None], [r.seq for r in rows if r.sent_at is None]


def ping_numbers(records: list, key: uuid.UUID) -> list[int]:
    return [parse_envelope(r.value).data["ping_no"] for r in records if r.key == str(key).encode()]


def test_murmur2_is_kafkas() -> None:
    keys = [os.urandom(n % 41) for n in range(3000)] + [str(uuid.uuid4()).encode() for _ in range(1000)]
    assert [murmur2(k) for k in keys] == [aiokafka_murmur2(k) for k in keys]


class SmallTopic:
    """A topic that refuses batches over 4,000 bytes until ``raise_limit``, as an operator would
    raise it."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.topic = topic
        self.admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)

    async def raise_limit(self) -> None:
        await self.admin.alter_configs(
            [ConfigResource(ConfigResourceType.TOPIC, self.topic, configs={"max.message.bytes": "1048588"})]
        )


@asynccontextmanager
async def small_topic(bootstrap: str, topic: str, partitions: int) -> AsyncIterator[SmallTopic]:
    made = SmallTopic(bootstrap, topic)
    await made.admin.start()
    try:
        await made.admin.create_topics([NewTopic(topic, partitions, 1, topic_configs={"max.message.bytes": "4000"})])
        yield made
    finally:
        await made.admin.close()


async def relayed_once_the_limit_holds(relay: OutboxRelay) -> int:
    """The relay's next try once the raised limit holds (the broker applies a topic's new config a
    moment after it answers), from the oldest unsent row with a fresh producer."""

    async def once() -> int | None:
        try:
            return await relay.relay_once()
        except MessageSizeTooLargeError:
            return None

    sent: int = await eventually(once, seconds=30)
    return sent


async def test_a_failed_batch_mid_pipeline_is_resent_before_anything_after_it(
    sessions, kafka_bootstrap, namespace
) -> None:
    # A topic that refuses big batches: the batch holding ping 5 fails at the broker while the
    # batches before and after it are in flight; then the operator raises the limit.
    ns = f"{namespace}small."
    topic = f"{ns}crm.customer"
    async with small_topic(kafka_bootstrap, topic, partitions=3) as small:
        key = uuid.uuid4()
        await publish_pings(sessions, key, range(12), big=5)
        relay = relay_for(sessions, kafka_bootstrap, ns, batch_size=4)
        try:
            with pytest.raises(KafkaError):  # the broker refuses the batch that is too large
                await relay.relay_once()
            sent, unsent = await sent_seqs(sessions)
            assert len(sent) == 4 and max(sent) < min(unsent)  # only the batch before the failure
            await small.raise_limit()
            # A fresh producer, from the oldest unsent row (a refused try marks nothing sent).
            assert await relayed_once_the_limit_holds(relay) == 8
        finally:
            await relay.stop()
    # Nothing after the failed batch reached Kafka before it: the key's order is exact.
    assert ping_numbers(await read_topic(kafka_bootstrap, topic, expect=12), key) == list(range(12))


def acks_seen_late(monkeypatch: pytest.MonkeyPatch, seconds: float) -> None:
    """The relay learns of each batch's acknowledgement (or failure) ``seconds`` after the producer
    does, as on a loaded machine: it has fetched and handed over the next batches by then."""
    send_batch = AIOKafkaProducer.send_batch

    async def late(self: AIOKafkaProducer, batch: Any, topic: str, *, partition: int) -> asyncio.Future[Any]:
        ack = await send_batch(self, batch, topic, partition=partition)
        seen: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

        async def tell() -> None:
            await asyncio.sleep(seconds)
            if ack.cancelled():
                seen.cancel()
            elif (error := ack.exception()) is not None:
                seen.set_exception(error)
            else:
                seen.set_result(ack.result())

        ack.add_done_callback(lambda _: asyncio.ensure_future(tell()))
        return seen

    monkeypatch.setattr(AIOKafkaProducer, "send_batch", late)


async def test_a_fresh_producers_failed_first_batch_lets_nothing_after_it_through(
    sessions, kafka_bootstrap, namespace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After a failure the relay starts over with a new producer, whose first batch of a partition
    may fail again (the topic still refuses it). The broker takes a new producer's next batch
    whatever its sequence number, so a batch handed over behind the failed one (the relay had not
    seen the failure yet) would land ahead of the failed rows' resend: it must never be sent."""
    ns = f"{namespace}fresh."
    topic = f"{ns}crm.customer"
    async with small_topic(kafka_bootstrap, topic, partitions=1) as small:
        key = uuid.uuid4()
        await publish_pings(sessions, key, range(8), big=0)
        acks_seen_late(monkeypatch, 0.5)
        relay = relay_for(sessions, kafka_bootstrap, ns, batch_size=4)
        try:
            for _ in range(2):  # each try a new producer; its first batch fails, the next waits
                with pytest.raises(KafkaError):
                    await relay.relay_once()
            assert (await sent_seqs(sessions))[0] == []
            await small.raise_limit()
            assert await relayed_once_the_limit_holds(relay) == 8
        finally:
            await relay.stop()
    assert ping_numbers(await read_topic(kafka_bootstrap, topic, expect=8), key) == list(range(8))


async def test_rows_are_marked_sent_only_in_order_after_their_ack(sessions, kafka_bootstrap, topics) -> None:
    key = uuid.uuid4()
    await publish_pings(sessions, key, range(12))
    relay = relay_for(sessions, kafka_bootstrap, topics, batch_size=3)
    acks = 0

    def die_on_second_ack() -> None:
        nonlocal acks
        acks += 1
        if acks == 2:
            raise SystemError("relay died after Kafka acknowledged its second batch")

    relay.fail_after_ack = die_on_second_ack
    try:
        with pytest.raises(SystemError):
            await relay.relay_once()
        sent, unsent = await sent_seqs(sessions)
        # Later batches were acknowledged too (they were in flight), yet only the first is marked.
        assert len(sent) == 3 and max(sent) < min(unsent)
        relay.fail_after_ack = None
        assert await relay.relay_once() == 9
    finally:
        await relay.stop()
    numbers = ping_numbers(await read_topic(kafka_bootstrap, f"{topics}crm.customer"), key)
    first_seen = list(dict.fromkeys(numbers))
    assert first_seen == list(range(12))  # re-sent copies come after, consumers skip them
    assert numbers[:3] == [0, 1, 2] and numbers.count(0) == 1


async def test_rows_beyond_a_gap_in_seq_and_rows_committed_late_are_sent(sessions, kafka_bootstrap, topics) -> None:
    key = uuid.uuid4()
    await publish_pings(sessions, key, range(6))
    async with unit_of_work(sessions) as s:  # a gap far wider than the relay's read window
        await s.execute(update(outbox).where(outbox.c.seq > 3).values(seq=outbox.c.seq + 100_000))
    relay = relay_for(sessions, kafka_bootstrap, topics, batch_size=2)
    try:
        assert await relay_all(relay) == 6
        async with unit_of_work(sessions) as s:  # committed after the rows above were sent
            await publish(s, Ping(ping_no=6), subject=key)
            await s.flush()
            await s.execute(update(outbox).where(outbox.c.sent_at.is_(None)).values(seq=1_000))
        assert await relay_all(relay) == 1
        assert await relay.backlog() == 0
    finally:
        await relay.stop()
    numbers = ping_numbers(await read_topic(kafka_bootstrap, f"{topics}crm.customer", expect=7), key)
    assert numbers == list(range(7))
