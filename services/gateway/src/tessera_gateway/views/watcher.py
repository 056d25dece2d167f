"""Reads every service's topic, for the 360 view cache (see views/cache.py).

Each gateway replica reads on its own, without a consumer group: every replica must see every
event. It starts where the slowest service reacting to each partition stands: what all of them
have applied needs no reading. Beside it, the committed offsets of the
services' consumer groups are polled, which tells when an event's effects are in their databases.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from tessera_gateway.views.cache import Freshness
from tessera_shared.kafka_log import OUTAGE, is_kafka_failure

log = logging.getLogger(__name__)


def customers_of(key: bytes | None, value: bytes | None) -> list[str]:
    """The customers an event is about: its key (the customer id), and for a merge both ids."""
    customers = [key.decode()] if key else []
    if value and value.find(b"customer.merged", 0, 2048) >= 0:  # the type is near the start; no copy
        try:
            data = orjson.loads(value).get("data") or {}
        except orjson.JSONDecodeError:
            return customers
        customers += [str(data[k]) for k in ("survivor_id", "merged_id") if data.get(k)]
    return list(dict.fromkeys(customers))


class Watcher:
    def __init__(
        self,
        freshness: Freshness,
        *,
        bootstrap: str,
        topics: dict[str, str],
        groups: dict[str, str],
        poll_interval: float = 0.2,
        stale_after: float = 3.0,
    ) -> None:
        """``topics``: service -> topic name; ``groups``: service -> its consumer group id."""
        self.freshness = freshness
        self.bootstrap = bootstrap
        self.topics = topics
        self.groups = groups
        self.poll_interval = poll_interval
        self.stale_after = stale_after
        self._offsets_at = 0.0

    async def run(self) -> None:
        backoff = 0.5
        while True:
            try:
                await self._session()
            except asyncio.CancelledError:
                self.freshness.set_live(False)
                raise
            except Exception as exc:
                if is_kafka_failure(exc):  # one line per outage, and a summary (tessera_shared.kafka_log)
                    OUTAGE.failed("360 view watcher", repr(exc))
                else:
                    log.warning(
                        "360 view cache off: cannot follow the event topics (%s: %s); retrying", type(exc).__name__, exc
                    )
            self.freshness.set_live(False)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 10.0)

    async def _session(self) -> None:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap,
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="latest",
            isolation_level="read_committed",
            client_id="tessera-gateway-views",
            request_timeout_ms=10_000,
        )
        admin = AIOKafkaAdminClient(
            bootstrap_servers=self.bootstrap, client_id="tessera-gateway-views", request_timeout_ms=5_000
        )
        try:
            await consumer.start()
            await admin.start()
            OUTAGE.recovered("360 view watcher")
            partitions = await self._position(consumer, admin)
            # Views are declared current only once what was there at the start has been read.
            end = await consumer.end_offsets(partitions)
            behind = {tp for tp in partitions if await consumer.position(tp) < end[tp]}
            offsets_task = asyncio.create_task(self._offsets_loop(admin))
            try:
                while True:
                    if not behind and not self.freshness.live:
                        self.freshness.set_live(True)
                        log.info(
                            "360 view cache on: following %d partitions of %s",
                            len(partitions),
                            sorted(self.topics.values()),
                        )
                    batches = await consumer.getmany(timeout_ms=200, max_records=1000)
                    for tp, records in batches.items():
                        for record in records:
                            self.freshness.event(
                                customers_of(record.key, record.value), tp.topic, tp.partition, record.offset
                            )
                    if behind:
                        behind = {tp for tp in behind if await consumer.position(tp) < end[tp]}
                    if offsets_task.done():
                        offsets_task.result()  # raises what stopped it
                    if time.monotonic() - self._offsets_at > self.stale_after:
                        raise RuntimeError("the consumer groups' offsets are out of date")
            finally:
                offsets_task.cancel()
                await asyncio.gather(offsets_task, return_exceptions=True)
        finally:
            self.freshness.set_live(False)
            await consumer.stop()
            await admin.close()

    async def _position(self, consumer: AIOKafkaConsumer, admin: AIOKafkaAdminClient) -> list[TopicPartition]:
        """Assign every partition of the topics, each from where the slowest reacting service
        stands: every event some service has yet to apply is seen (and holds its customer's views
        back) even if it was published before this start, e.g. while the broker was away. A
        partition some reacting group has never committed on is read from its end."""
        partitions: list[TopicPartition] = []
        for description in await admin.describe_topics(list(self.topics.values())):
            if description["error_code"] != 0 or not description["partitions"]:
                raise RuntimeError(f"topic {description['topic']} is not there yet")
            partitions += [TopicPartition(description["topic"], p["partition"]) for p in description["partitions"]]
        consumer.assign(partitions)
        await self._poll_offsets(admin)
        await consumer.seek_to_end(*partitions)
        for tp in partitions:
            upto = self.freshness.applied_upto((tp.topic, tp.partition))
            if 0 <= upto < math.inf:
                consumer.seek(tp, int(upto))
        return partitions

    async def _offsets_loop(self, admin: AIOKafkaAdminClient) -> None:
        while True:
            await asyncio.sleep(self.poll_interval)
            await self._poll_offsets(admin)
            self.freshness.prune()

    async def _poll_offsets(self, admin: AIOKafkaAdminClient) -> None:
        results = await asyncio.gather(*(admin.list_consumer_group_offsets(g) for g in self.groups.values()))
        for group, offsets in zip(self.groups.values(), results, strict=True):
            self.freshness.offsets(group, {(tp.topic, tp.partition): meta.offset for tp, meta in offsets.items()})
        self._offsets_at = time.monotonic()
