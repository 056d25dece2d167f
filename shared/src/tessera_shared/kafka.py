"""Kafka clients configured the way the event contract needs them, and topic creation."""

from __future__ import annotations

import asyncio
import logging

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from tessera_shared.events.envelope import SERVICES, dlq_topic_for, topic_for

log = logging.getLogger(__name__)


def make_producer(bootstrap: str, *, client_id: str) -> AIOKafkaProducer:
    # aiokafka's defaults are acks=1 and no idempotence: a broker failover could lose or
    # duplicate a write. The contract needs both off the table.
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        client_id=client_id,
        acks="all",
        enable_idempotence=True,
        linger_ms=2,
        request_timeout_ms=30_000,
        retry_backoff_ms=200,
    )


def make_consumer(bootstrap: str, *, group_id: str, client_id: str, topics: list[str]) -> AIOKafkaConsumer:
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
        session_timeout_ms=10_000,
        heartbeat_interval_ms=3_000,
    )


def contract_topics(namespace: str = "") -> list[str]:
    return [topic_for(s, namespace) for s in SERVICES] + [dlq_topic_for(s, namespace) for s in SERVICES]


async def ensure_topics(
    bootstrap: str, topics: list[str], *, partitions: int = 6, timeout: float = 30.0
) -> None:
    """Create the topics that are missing (the broker does not auto-create them)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=int(timeout * 1000))
    await asyncio.wait_for(admin.start(), timeout)
    try:
        existing = set(await admin.list_topics())
        missing = [t for t in topics if t not in existing]
        if not missing:
            return
        new = [
            NewTopic(name=t, num_partitions=3 if t.endswith(".dlq") else partitions, replication_factor=1)
            for t in missing
        ]
        try:
            await admin.create_topics(new)
        except TopicAlreadyExistsError:
            pass  # another process created them first
        log.info("created topics", extra={"topics": missing})
        # Metadata for new topics propagates asynchronously; wait until all are listed.
        deadline = asyncio.get_running_loop().time() + timeout
        while not set(missing) <= set(await admin.list_topics()):
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"topics not visible after {timeout}s: {missing}")
            await asyncio.sleep(0.1)
    finally:
        await admin.close()
