"""Faster rejoin (issue 20 item 5), on real Kafka: two members of one group, one of them a process
of its own running the consumer runner with the shipped settings. Killed with SIGKILL (no goodbye),
its partitions must reach the other member within 5 s; stopped with SIGTERM (the runner's graceful
stop, which leaves the group), within 2 s."""

from __future__ import annotations

import asyncio
import signal
import sys
import uuid
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from tessera_shared.consumer import ConsumerRunner
from tessera_shared.db import create_engine, session_factory
from tessera_shared.kafka import ensure_topics, make_consumer, make_producer
from tessera_shared.settings import ServiceSettings

PARTITIONS = 6
MEMBER = Path(__file__).with_name("rejoin_member.py")


async def broker_session_floor(bootstrap: str) -> int:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        (response,) = await admin.describe_configs([ConfigResource(ConfigResourceType.BROKER, "1")])
        for _code, _message, _type, _name, configs in response.resources:
            for name, value, *_ in configs:
                if name == "group.min.session.timeout.ms":
                    return int(value)
        raise LookupError("group.min.session.timeout.ms not described")
    finally:
        await admin.close()


async def member(bootstrap: str, group: str, topic: str) -> asyncio.subprocess.Process:
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(MEMBER), bootstrap, group, topic, stdout=asyncio.subprocess.PIPE
    )
    assert process.stdout is not None
    assert await asyncio.wait_for(process.stdout.readline(), 60) == b"assigned\n"
    return process


async def until_all_partitions(consumer: AIOKafkaConsumer, timeout: float = 30.0) -> float:
    """Seconds until ``consumer`` holds every partition."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    # Polled: aiokafka assigns in the background, with no event to wait on.
    while len(consumer.assignment()) < PARTITIONS:
        assert loop.time() - started < timeout, f"{len(consumer.assignment())} partitions after {timeout} s"
        await asyncio.sleep(0.02)
    return loop.time() - started


async def until_shared(consumer: AIOKafkaConsumer, timeout: float = 30.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not 0 < len(consumer.assignment()) < PARTITIONS:
        assert loop.time() < deadline, "the group never shared the partitions"
        await asyncio.sleep(0.02)


async def test_partitions_move_fast_after_kill_and_at_once_after_stop(kafka_bootstrap: str, namespace: str) -> None:
    settings = ServiceSettings()
    floor = await broker_session_floor(kafka_bootstrap)
    assert floor <= settings.kafka_session_timeout_ms, (
        f"the broker's group.min.session.timeout.ms is {floor}: restart it with the repo's config"
        " (deploy/local/kafka.sh restart), which allows the services' shorter sessions"
    )
    topic, group = f"{namespace}crm.rejoin", f"{namespace}rejoin-{uuid.uuid4().hex[:6]}"
    await ensure_topics(kafka_bootstrap, [topic], partitions=PARTITIONS)
    survivor = make_consumer(
        kafka_bootstrap,
        group_id=group,
        client_id="rejoin-survivor",
        topics=[topic],
        session_timeout_ms=settings.kafka_session_timeout_ms,
        heartbeat_interval_ms=settings.kafka_heartbeat_interval_ms,
    )
    await survivor.start()
    polling = asyncio.create_task(poll(survivor))
    figures: dict[str, float] = {}
    try:
        await until_all_partitions(survivor)
        for way, sig in (("kill -9", signal.SIGKILL), ("SIGTERM", signal.SIGTERM)):
            other = await member(kafka_bootstrap, group, topic)
            await until_shared(survivor)
            other.send_signal(sig)
            figures[way] = await until_all_partitions(survivor)
            if sig == signal.SIGTERM:
                assert other.stdout is not None
                assert await asyncio.wait_for(other.stdout.readline(), 10) == b"stopped\n"
            await asyncio.wait_for(other.wait(), 10)
    finally:
        polling.cancel()
        await asyncio.gather(polling, return_exceptions=True)
        await survivor.stop()
    print(f"partitions moved after: {figures}")
    assert figures["kill -9"] < 5.0
    assert figures["SIGTERM"] < 2.0


async def poll(consumer: AIOKafkaConsumer) -> None:
    while True:
        await consumer.getmany(timeout_ms=100)


async def test_a_session_the_broker_refuses_falls_back_to_the_safe_one(
    kafka_bootstrap: str, namespace: str, caplog: pytest.LogCaptureFixture
) -> None:
    """No broker accepts a 500 ms session (the floor is 1 s here, 6 s by default): the runner joins
    with the fallback consumer instead of failing to consume."""
    topic, group = f"{namespace}crm.rejoin", f"{namespace}fallback"
    await ensure_topics(kafka_bootstrap, [topic], partitions=PARTITIONS)
    engine = create_engine("sqlite+aiosqlite://")
    runner = ConsumerRunner(
        service="rejoin",
        sessions=session_factory(engine),
        handlers={},
        consumer_factory=lambda: make_consumer(
            kafka_bootstrap,
            group_id=group,
            client_id="refused",
            topics=[topic],
            session_timeout_ms=500,
            heartbeat_interval_ms=100,
        ),
        fallback_factory=lambda: make_consumer(kafka_bootstrap, group_id=group, client_id="safe", topics=[topic]),
        producer_factory=lambda: make_producer(kafka_bootstrap, client_id="rejoin"),
        dlq_topic=f"{topic}.dlq",
        group_id=group,
    )
    runner.start()
    try:
        await asyncio.wait_for(runner.assigned.wait(), 30)
    finally:
        await runner.stop()
        await engine.dispose()
    assert "refuses the consumer's session timeout" in caplog.text
