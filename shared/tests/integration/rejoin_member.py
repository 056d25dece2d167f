"""A consumer-group member in a process of its own, for test_consumer_rejoin: the consumer runner as
a service runs it (the shipped session settings), killed with SIGKILL or stopped with SIGTERM.

Usage: python rejoin_member.py BOOTSTRAP GROUP TOPIC. Prints "assigned" once it holds partitions and
"stopped" after a SIGTERM's graceful stop (ConsumerRunner.stop: the consumer leaves the group)."""

from __future__ import annotations

import asyncio
import signal
import sys

from tessera_shared.consumer import ConsumerRunner
from tessera_shared.db import create_engine, session_factory
from tessera_shared.kafka import make_consumer, make_producer
from tessera_shared.settings import ServiceSettings


async def main(bootstrap: str, group: str, topic: str) -> None:
    settings = ServiceSettings()
    engine = create_engine("sqlite+aiosqlite://")  # no records come: nothing is applied
    runner = ConsumerRunner(
        service="rejoin",
        sessions=session_factory(engine),
        handlers={},
        consumer_factory=lambda: make_consumer(
            bootstrap,
            group_id=group,
            client_id="rejoin-member",
            topics=[topic],
            session_timeout_ms=settings.kafka_session_timeout_ms,
            heartbeat_interval_ms=settings.kafka_heartbeat_interval_ms,
        ),
        producer_factory=lambda: make_producer(bootstrap, client_id="rejoin-member"),
        dlq_topic=f"{topic}.dlq",
        group_id=group,
    )
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    runner.start()
    await runner.assigned.wait()
    print("assigned", flush=True)
    await stop.wait()
    await runner.stop()
    print("stopped", flush=True)
    await engine.dispose()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))
