"""Kafka clients configured the way the event contract needs them, and topic creation."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from tessera_shared.events.envelope import COMPACTED_PRODUCERS, PRODUCERS, SERVICES, dlq_topic_for, topic_for
from tessera_shared.kafka_log import quiet_kafka_outages

log = logging.getLogger(__name__)
quiet_kafka_outages()  # an outage is a line per state change and a summary, not a flood (kafka_log.py)

# Big enough that a partition's share of a relay batch (~500 x 600 B) is one Kafka batch, well
# under the broker's default message.max.bytes (1 MiB); small sends still leave at once.
MAX_BATCH_BYTES = 256 * 1024


def make_producer(bootstrap: str, *, client_id: str) -> AIOKafkaProducer:
    # aiokafka's defaults are acks=1 and no idempotence: a broker failover could lose or
    # duplicate a write. The contract needs both off the table.
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        client_id=client_id,
        acks="all",
        enable_idempotence=True,
        linger_ms=2,
        max_batch_size=MAX_BATCH_BYTES,
        request_timeout_ms=30_000,
        retry_backoff_ms=200,
    )


# What every broker accepts (its group.min.session.timeout.ms defaults to 6 s): the consumer
# falls back to these when the broker refuses the configured session (ServiceSettings'
# kafka_session_timeout_ms, 3 s by default; docs/operations.md, "Consumer groups and rejoin").
BROKER_SAFE_SESSION_TIMEOUT_MS = 10_000
BROKER_SAFE_HEARTBEAT_INTERVAL_MS = 3_000


def make_consumer(
    bootstrap: str,
    *,
    group_id: str,
    client_id: str,
    topics: list[str],
    session_timeout_ms: int = BROKER_SAFE_SESSION_TIMEOUT_MS,
    heartbeat_interval_ms: int = BROKER_SAFE_HEARTBEAT_INTERVAL_MS,
) -> AIOKafkaConsumer:
    """A member of ``group_id`` with a dynamic membership: ``stop()`` sends LeaveGroup, so its
    partitions move at once; a member that dies without it is dropped ``session_timeout_ms`` after
    its last heartbeat, and the others hear of the new assignment at their next heartbeat."""
    return AIOKafkaConsumer(
        *topics,
        bootstrap_servers=bootstrap,
        group_id=group_id,
        client_id=client_id,
        # Offsets are committed by hand, only after the effect is committed.
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
        max_poll_records=200,
        session_timeout_ms=session_timeout_ms,
        heartbeat_interval_ms=heartbeat_interval_ms,
    )


def contract_topics(namespace: str = "") -> list[str]:
    return [topic_for(s, namespace) for s in PRODUCERS] + [dlq_topic_for(s, namespace) for s in SERVICES]


def compacted_topics(namespace: str = "") -> frozenset[str]:
    """Topics that keep each key's latest event for good (the gateway's API keys)."""
    return frozenset(topic_for(s, namespace) for s in COMPACTED_PRODUCERS)


async def ensure_topics(bootstrap: str, topics: list[str], *, partitions: int = 6, timeout: float = 30.0) -> None:
    """Create the topics that are missing (the broker does not auto-create them)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=int(timeout * 1000))
    await asyncio.wait_for(admin.start(), timeout)
    try:
        existing = set(await admin.list_topics())
        missing = [t for t in topics if t not in existing]
        if not missing:
            return
        compacted = {t for t in missing if any(t.endswith(c) for c in compacted_topics())}
        new = [
            NewTopic(
                name=t,
                num_partitions=3 if t.endswith(".dlq") else partitions,
                replication_factor=1,
                topic_configs={"cleanup.policy": "compact"} if t in compacted else {},
            )
            for t in missing
        ]
        with contextlib.suppress(TopicAlreadyExistsError):  # another process created them first
            await admin.create_topics(new)
        log.info("created topics", extra={"topics": missing})
        # Metadata for new topics propagates asynchronously; wait until all are listed.
        deadline = asyncio.get_running_loop().time() + timeout
        while not set(missing) <= set(await admin.list_topics()):
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"topics not visible after {timeout}s: {missing}")
            await asyncio.sleep(0.1)
    finally:
        await admin.close()


_M, _MASK = 0x5BD1E995, 0xFFFFFFFF
_WORDS: dict[int, struct.Struct] = {}


def murmur2(data: bytes) -> int:
    """Kafka's murmur2 (what every client's default partitioner hashes keys with).

    The same result as ``aiokafka.partitioner.murmur2`` in half the time: the relay hashes
    every key it sends, and that was a tenth of its CPU.
    """
    length = len(data)
    words = _WORDS.get(length)
    if words is None:
        words = _WORDS[length] = struct.Struct(f"<{length >> 2}I")
    h = 0x9747B28C ^ length
    for k in words.unpack_from(data):
        k = (k * _M) & _MASK
        h = ((h * _M) & _MASK) ^ (((k ^ (k >> 24)) * _M) & _MASK)
    extra = length & 3
    if extra:
        tail = length & ~3
        if extra == 3:
            h ^= data[tail + 2] << 16
        if extra >= 2:
            h ^= data[tail + 1] << 8
        h = ((h ^ data[tail]) * _M) & _MASK
    h ^= h >> 13
    h = (h * _M) & _MASK
    return h ^ (h >> 15)


def partition_for(key: bytes, partitions: list[int]) -> int:
    """The partition Kafka's default partitioner picks for ``key`` (``partitions`` sorted)."""
    return partitions[(murmur2(key) & 0x7FFFFFFF) % len(partitions)]
