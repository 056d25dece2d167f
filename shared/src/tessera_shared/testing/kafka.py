"""Reading topics back in tests, independently of the code under test."""

from __future__ import annotations

import asyncio

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient


async def partitions_of(bootstrap: str, topic: str) -> list[int]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        (description,) = await admin.describe_topics([topic])
        if description["error_code"] != 0:
            raise LookupError(f"topic {topic}: error {description['error_code']}")
        return sorted(p["partition"] for p in description["partitions"])
    finally:
        await admin.close()


async def read_topic(
    bootstrap: str, topic: str, *, expect: int | None = None, timeout: float = 20.0
) -> list[ConsumerRecord]:
    """Every record on ``topic`` from the beginning to its end (or until ``expect`` arrived)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, isolation_level="read_committed")
    await consumer.start()
    try:
        deadline = asyncio.get_running_loop().time() + timeout
        partitions = await partitions_of(bootstrap, topic)
        tps = [TopicPartition(topic, p) for p in partitions]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        records: list[ConsumerRecord] = []
        while True:
            end = await consumer.end_offsets(tps)
            done = all([await consumer.position(tp) >= end[tp] for tp in tps])
            if (expect is None and done) or (expect is not None and len(records) >= expect):
                return records
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"read {len(records)} records from {topic}, expected {expect}")
            batch = await consumer.getmany(timeout_ms=200)
            for recs in batch.values():
                records.extend(recs)
    finally:
        await consumer.stop()
