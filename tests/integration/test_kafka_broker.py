"""aiokafka 0.14 against the real Apache Kafka 4.3.1 broker.

The broker is the one started by ``deploy/local/kafka.sh`` (``make test`` runs
it on port 19092). aiokafka's issue #1085 tracks Kafka 4.x support, so these
tests prove the client features Tessera relies on against the real broker:

* the idempotent producer (``enable_idempotence=True, acks="all"``) and
  per-key ordering,
* consumer groups with manual commits (resume exactly after the commit),
* transactions (commit and abort, ``read_committed`` consumers), including
  consumer offsets committed inside a transaction.

The broker address comes from ``TESSERA_TEST_KAFKA`` (default
``127.0.0.1:19092``). If nothing answers there the tests FAIL (they are not
skipped): start the broker with ``KAFKA_PORT=19092 deploy/local/kafka.sh start``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TypeVar

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError

BOOTSTRAP = os.environ.get("TESSERA_TEST_KAFKA", "127.0.0.1:19092")

# Upper bound for any single wait on the broker; keeps a broken broker from
# hanging the suite.
TIMEOUT_S = 30.0

T = TypeVar("T")


def _host_port(bootstrap: str) -> tuple[str, int]:
    first = bootstrap.split(",")[0].strip()
    host, _, port = first.rpartition(":")
    return host.strip("[]") or "127.0.0.1", int(port)


@pytest.fixture(scope="module", autouse=True)
def kafka_broker() -> str:
    """Fail (do not skip) when no broker answers on TESSERA_TEST_KAFKA."""
    host, port = _host_port(BOOTSTRAP)
    error: OSError | None = None
    try:
        with socket.create_connection((host, port), timeout=3):
            pass
    except OSError as exc:
        error = exc
    if error is not None:
        pytest.fail(
            f"no Kafka broker answers on {host}:{port} (TESSERA_TEST_KAFKA={BOOTSTRAP!r}): "
            f"{error}. Start one with: KAFKA_PORT=19092 deploy/local/kafka.sh start",
            pytrace=False,
        )
    return BOOTSTRAP


async def bounded(awaitable: Awaitable[T], what: str) -> T:
    try:
        return await asyncio.wait_for(awaitable, TIMEOUT_S)
    except TimeoutError:
        pass
    pytest.fail(f"timed out after {TIMEOUT_S:.0f}s: {what}", pytrace=False)


def _unique(prefix: str) -> str:
    return f"tessera-it-{prefix}-{uuid.uuid4().hex[:12]}"


@pytest.fixture
async def new_topic() -> AsyncIterator[Callable[..., Awaitable[str]]]:
    """Factory creating fresh topics (auto-creation is disabled on the broker);
    deletes them afterwards."""
    admin = AIOKafkaAdminClient(bootstrap_servers=BOOTSTRAP, request_timeout_ms=15_000)
    await bounded(admin.start(), "admin client start")
    created: list[str] = []

    async def create(prefix: str, partitions: int) -> str:
        name = _unique(prefix)
        response = await bounded(
            admin.create_topics(
                [NewTopic(name, num_partitions=partitions, replication_factor=1)],
                timeout_ms=15_000,
            ),
            f"create topic {name}",
        )
        errors = [(t[0], t[1]) for t in response.topic_errors if t[1] != 0]
        assert not errors, f"CreateTopics failed: {errors}"
        created.append(name)
        await _wait_for_partitions(admin, name, partitions)
        return name

    try:
        yield create
    finally:
        if created:
            # Best effort: the test broker is throwaway.
            with contextlib.suppress(KafkaError, OSError, TimeoutError):
                await asyncio.wait_for(admin.delete_topics(created, timeout_ms=10_000), 15)
        await admin.close()


async def _wait_for_partitions(admin: AIOKafkaAdminClient, topic: str, partitions: int) -> None:
    """Wait until every partition of the new topic has a leader in the metadata."""

    async def poll() -> None:
        while True:
            described = await admin.describe_topics([topic])
            if (
                described
                and described[0]["error_code"] == 0
                and len(described[0]["partitions"]) == partitions
                and all(p["leader"] >= 0 for p in described[0]["partitions"])
            ):
                return
            await asyncio.sleep(0.1)

    await bounded(poll(), f"metadata for {topic}")


async def _consume(consumer: AIOKafkaConsumer, count: int, what: str) -> list:
    """Read exactly ``count`` records (one at a time, bounded in time)."""

    async def run() -> list:
        return [await consumer.getone() for _ in range(count)]

    return await bounded(run(), f"{what}: consuming {count} records")


# --------------------------------------------------------------------------
# (a) idempotent producer, keyed messages, per-key order
# --------------------------------------------------------------------------


async def test_idempotent_producer_preserves_per_key_order(new_topic) -> None:
    topic = await new_topic("idem", 3)
    keys = [f"customer-{i}" for i in range(8)]
    per_key = 25

    producer = AIOKafkaProducer(
        bootstrap_servers=BOOTSTRAP,
        enable_idempotence=True,
        acks="all",
        linger_ms=5,
    )
    await bounded(producer.start(), "idempotent producer start")
    try:
        futures = []
        # Interleave keys so every batch mixes them.
        for seq in range(per_key):
            for key in keys:
                futures.append(await producer.send(topic, key=key.encode(), value=f"{key}:{seq}".encode()))
        metadata = await bounded(asyncio.gather(*futures), "idempotent sends acked")
        # The broker assigned a producer id: idempotence is really on.
        txn_manager = producer._txn_manager
        assert txn_manager is not None and txn_manager.producer_id >= 0
    finally:
        await producer.stop()

    sent_partition: dict[str, set[int]] = defaultdict(set)
    for key_index, md in enumerate(metadata):
        sent_partition[keys[key_index % len(keys)]].add(md.partition)
    assert all(len(p) == 1 for p in sent_partition.values()), sent_partition
    # The keys spread over more than one partition (murmur2 of fixed keys).
    assert len({p for ps in sent_partition.values() for p in ps}) > 1

    consumer = AIOKafkaConsumer(
        bootstrap_servers=BOOTSTRAP,
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await bounded(consumer.start(), "consumer start")
    try:
        consumer.assign([TopicPartition(topic, p) for p in range(3)])
        records = await _consume(consumer, len(keys) * per_key, "idempotent topic")
    finally:
        await consumer.stop()

    seen: dict[str, list[int]] = defaultdict(list)
    partition_of: dict[str, set[int]] = defaultdict(set)
    for record in records:
        key = record.key.decode()
        value_key, _, seq = record.value.decode().partition(":")
        assert value_key == key
        seen[key].append(int(seq))
        partition_of[key].add(record.partition)
    assert set(seen) == set(keys)
    for key in keys:
        assert seen[key] == list(range(per_key)), f"out of order / duplicated for {key}"
        assert partition_of[key] == sent_partition[key]


# --------------------------------------------------------------------------
# (b) consumer group, manual commit, resume exactly after the commit
# --------------------------------------------------------------------------


async def test_consumer_group_resumes_after_manual_commit(new_topic) -> None:
    # One partition: "message 6" is only well defined with a total order.
    topic = await new_topic("group", 1)
    group = _unique("group")
    tp = TopicPartition(topic, 0)

    producer = AIOKafkaProducer(bootstrap_servers=BOOTSTRAP, enable_idempotence=True, acks="all")
    await bounded(producer.start(), "producer start")
    try:
        for i in range(1, 11):
            await bounded(producer.send_and_wait(topic, key=b"k", value=f"msg-{i}".encode()), "send")
    finally:
        await producer.stop()

    def group_consumer() -> AIOKafkaConsumer:
        return AIOKafkaConsumer(
            topic,
            bootstrap_servers=BOOTSTRAP,
            group_id=group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            session_timeout_ms=10_000,
            heartbeat_interval_ms=1_000,
        )

    first = group_consumer()
    await bounded(first.start(), "first group consumer start")
    try:
        assert await bounded(first.committed(tp), "committed (none yet)") is None
        records = await _consume(first, 5, "first consumer")
        assert [r.value for r in records] == [f"msg-{i}".encode() for i in range(1, 6)]
        assert [r.offset for r in records] == [0, 1, 2, 3, 4]
        # Commit what was consumed (prefetched-but-unconsumed records don't count).
        await bounded(first.commit(), "commit")
        assert await bounded(first.committed(tp), "committed after commit") == 5
    finally:
        await first.stop()

    second = group_consumer()
    await bounded(second.start(), "second group consumer start")
    try:
        assert await bounded(second.committed(tp), "committed seen by second") == 5
        records = await _consume(second, 5, "second consumer")
        assert records[0].value == b"msg-6" and records[0].offset == 5
        assert [r.value for r in records] == [f"msg-{i}".encode() for i in range(6, 11)]
        assert second.assignment() == {tp}
        # Nothing beyond message 10.
        extra = await second.getmany(tp, timeout_ms=500)
        assert not extra.get(tp)
    finally:
        await second.stop()


# --------------------------------------------------------------------------
# (c) transactions: commit one, abort another; read_committed filters
# --------------------------------------------------------------------------


async def test_transactions_commit_and_abort(new_topic) -> None:
    topic = await new_topic("txn", 1)
    tp = TopicPartition(topic, 0)

    producer = AIOKafkaProducer(
        bootstrap_servers=BOOTSTRAP,
        transactional_id=_unique("txn-producer"),
        transaction_timeout_ms=30_000,
    )
    await bounded(producer.start(), "transactional producer start")
    try:
        async with producer.transaction():
            for v in (b"committed-1", b"committed-2", b"committed-3"):
                await producer.send(topic, key=b"k", value=v)
        await bounded(producer.begin_transaction(), "begin aborted txn")
        for v in (b"aborted-1", b"aborted-2"):
            await bounded(producer.send_and_wait(topic, key=b"k", value=v), "send aborted")
        await bounded(producer.abort_transaction(), "abort txn")
        # A committed marker after the aborted batch: proves read_committed
        # reads past the aborted data (not merely stopping at the LSO).
        async with producer.transaction():
            await producer.send(topic, key=b"k", value=b"committed-4")
    finally:
        await producer.stop()

    committed_consumer = AIOKafkaConsumer(
        bootstrap_servers=BOOTSTRAP,
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        isolation_level="read_committed",
    )
    await bounded(committed_consumer.start(), "read_committed consumer start")
    try:
        committed_consumer.assign([tp])
        records = await _consume(committed_consumer, 4, "read_committed")
        assert [r.value for r in records] == [
            b"committed-1",
            b"committed-2",
            b"committed-3",
            b"committed-4",
        ]
        extra = await committed_consumer.getmany(tp, timeout_ms=500)
        assert not extra.get(tp)
    finally:
        await committed_consumer.stop()

    # The aborted records really reached the log; only the isolation level hides them.
    uncommitted_consumer = AIOKafkaConsumer(
        bootstrap_servers=BOOTSTRAP,
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        isolation_level="read_uncommitted",
    )
    await bounded(uncommitted_consumer.start(), "read_uncommitted consumer start")
    try:
        uncommitted_consumer.assign([tp])
        records = await _consume(uncommitted_consumer, 6, "read_uncommitted")
        assert sorted(r.value for r in records) == sorted(
            [
                b"committed-1",
                b"committed-2",
                b"committed-3",
                b"aborted-1",
                b"aborted-2",
                b"committed-4",
            ]
        )
    finally:
        await uncommitted_consumer.stop()


async def test_transaction_commits_consumer_offsets(new_topic) -> None:
    """Consume-transform-produce: the output and the input offsets commit atomically."""
    source = await new_topic("eos-in", 1)
    sink = await new_topic("eos-out", 1)
    group = _unique("eos-group")
    src_tp = TopicPartition(source, 0)

    plain = AIOKafkaProducer(bootstrap_servers=BOOTSTRAP, enable_idempotence=True, acks="all")
    await bounded(plain.start(), "producer start")
    try:
        for i in range(4):
            await bounded(plain.send_and_wait(source, value=f"in-{i}".encode()), "send")
    finally:
        await plain.stop()

    consumer = AIOKafkaConsumer(
        source,
        bootstrap_servers=BOOTSTRAP,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
    )
    producer = AIOKafkaProducer(bootstrap_servers=BOOTSTRAP, transactional_id=_unique("eos-producer"))
    await bounded(consumer.start(), "consumer start")
    await bounded(producer.start(), "transactional producer start")
    try:
        first_two = await _consume(consumer, 2, "eos input (committed txn)")
        async with producer.transaction():
            for r in first_two:
                await producer.send(sink, value=r.value.replace(b"in", b"out"))
            await producer.send_offsets_to_transaction({src_tp: first_two[-1].offset + 1}, group)
        next_two = await _consume(consumer, 2, "eos input (aborted txn)")
        await bounded(producer.begin_transaction(), "begin")
        for r in next_two:
            await producer.send(sink, value=r.value.replace(b"in", b"out"))
        await producer.send_offsets_to_transaction({src_tp: next_two[-1].offset + 1}, group)
        await bounded(producer.abort_transaction(), "abort")
        # Only the committed transaction's offsets count for the group.
        assert await bounded(consumer.committed(src_tp), "group offset") == 2
    finally:
        await producer.stop()
        await consumer.stop()

    reader = AIOKafkaConsumer(
        bootstrap_servers=BOOTSTRAP,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
    )
    await bounded(reader.start(), "reader start")
    try:
        reader.assign([TopicPartition(sink, 0)])
        out = await _consume(reader, 2, "eos output")
        assert [r.value for r in out] == [b"out-0", b"out-1"]
        extra = await reader.getmany(TopicPartition(sink, 0), timeout_ms=500)
        assert not extra.get(TopicPartition(sink, 0))
    finally:
        await reader.stop()
