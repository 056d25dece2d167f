"""The view cache's watcher against the real broker: it follows the topics from their end and
the services' committed offsets, and a view becomes storable again only when they are past."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.structs import OffsetAndMetadata

from tessera_gateway.views.cache import CONSUMERS_OF, ViewCache, Views
from tessera_gateway.views.watcher import Watcher
from tessera_shared.events.envelope import topic_for
from tessera_shared.kafka import ensure_topics, make_producer


async def eventually(condition: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


async def commit(bootstrap: str, group: str, tp: TopicPartition, next_offset: int) -> None:
    """What a service's consumer does after applying the record before ``next_offset``."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign([tp])
        await consumer.commit({tp: OffsetAndMetadata(next_offset, "")})
    finally:
        await consumer.stop()


def store(views: Views, customer: str) -> bool:
    token = views.freshness.begin(customer)
    if token is None or not views.freshness.end(token):
        return False
    views.cache.put(ViewCache.key(customer, "admin", ["admin"]), b"{}", 'W/"x"')
    return True


async def test_views_follow_events_and_the_services_offsets(kafka_bootstrap: str, namespace: str) -> None:
    topics = {s: topic_for(s, namespace) for s in CONSUMERS_OF}
    groups = {s: f"{namespace}tessera-{s}" for s in CONSUMERS_OF}
    await ensure_topics(kafka_bootstrap, list(topics.values()), partitions=3)
    producer = make_producer(kafka_bootstrap, client_id="test")
    await producer.start()
    before = str(uuid.uuid4())
    await producer.send_and_wait(topics["billing"], b'{"type": "invoice.issued"}', key=before.encode())

    views = Views.build(ttl=60, max_bytes=1 << 20, topics=topics, groups=groups)
    watcher = Watcher(views.freshness, bootstrap=kafka_bootstrap, topics=topics, groups=groups, poll_interval=0.05)
    task = asyncio.create_task(watcher.run())
    try:
        await eventually(lambda: views.freshness.live)
        # It reads from the end: what happened before it started holds nothing back.
        assert store(views, before)

        customer = str(uuid.uuid4())
        assert store(views, customer)
        key = ViewCache.key(customer, "admin", ["admin"])
        sent = await producer.send_and_wait(topics["sales"], b'{"type": "deal.won"}', key=customer.encode())
        await eventually(lambda: views.cache.get(key) is None)  # the event dropped the view
        assert not store(views, customer)  # billing and the customer service have not applied it

        tp = TopicPartition(sent.topic, sent.partition)
        await commit(kafka_bootstrap, groups["billing"], tp, sent.offset + 1)
        await asyncio.sleep(0.3)  # several offset polls
        assert not store(views, customer)  # the customer service still has not
        await commit(kafka_bootstrap, groups["customer"], tp, sent.offset + 1)
        await eventually(lambda: store(views, customer))
        assert views.cache.get(key) is not None
        assert store(views, before)  # other customers were never held back
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await producer.stop()
    assert not views.freshness.live and len(views.cache) == 0  # stopped following: nothing kept


async def test_without_a_broker_the_cache_stays_off() -> None:
    topics = {s: topic_for(s) for s in CONSUMERS_OF}
    groups = {s: f"tessera-{s}" for s in CONSUMERS_OF}
    views = Views.build(ttl=60, max_bytes=1 << 20, topics=topics, groups=groups)
    task = asyncio.create_task(Watcher(views.freshness, bootstrap="127.0.0.1:1", topics=topics, groups=groups).run())
    try:
        await asyncio.sleep(1.0)
        assert not views.freshness.live
        assert not store(views, str(uuid.uuid4()))
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_events_some_service_has_yet_to_apply_hold_back_views_from_the_start(
    kafka_bootstrap: str, namespace: str
) -> None:
    """Started while the services lag (a gateway restart, or the broker back after an outage),
    the watcher reads from where the slowest reacting service stands, not from the end."""
    topics = {s: topic_for(s, namespace) for s in CONSUMERS_OF}
    groups = {s: f"{namespace}tessera-{s}" for s in CONSUMERS_OF}
    await ensure_topics(kafka_bootstrap, list(topics.values()), partitions=1)
    producer = make_producer(kafka_bootstrap, client_id="test")
    await producer.start()
    applied, lagging = str(uuid.uuid4()), str(uuid.uuid4())
    try:
        first = await producer.send_and_wait(topics["sales"], b'{"type": "deal.won"}', key=applied.encode())
        second = await producer.send_and_wait(topics["sales"], b'{"type": "deal.won"}', key=lagging.encode())
    finally:
        await producer.stop()
    tp = TopicPartition(first.topic, first.partition)
    # Billing has applied both; the customer service only the first.
    await commit(kafka_bootstrap, groups["billing"], tp, second.offset + 1)
    await commit(kafka_bootstrap, groups["customer"], tp, first.offset + 1)

    views = Views.build(ttl=60, max_bytes=1 << 20, topics=topics, groups=groups)
    storable_when_live: list[bool] = []
    set_live = views.freshness.set_live

    def spy(live: bool) -> None:  # what a request arriving at that very moment would be allowed
        set_live(live)
        if live:
            storable_when_live.append(views.freshness.begin(lagging) is not None)

    views.freshness.set_live = spy  # type: ignore[method-assign]
    task = asyncio.create_task(
        Watcher(views.freshness, bootstrap=kafka_bootstrap, topics=topics, groups=groups, poll_interval=0.05).run()
    )
    try:
        await eventually(lambda: views.freshness.live)
        assert storable_when_live == [False]  # live only once the backlog was read
        assert not store(views, lagging)
        assert store(views, applied)  # before where every reacting service stands: not read at all
        await commit(kafka_bootstrap, groups["customer"], tp, second.offset + 1)
        await eventually(lambda: store(views, lagging))
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
