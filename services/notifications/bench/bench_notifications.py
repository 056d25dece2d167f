"""Notifications benchmarks (issue 21), each beside its ceiling measured in the same run.

    .venv/bin/python services/notifications/bench/bench_notifications.py \\
        --pg postgresql+asyncpg://postgres@127.0.0.1:55432 --kafka 127.0.0.1:19092

- inbox latency at idle: an activity.due sent to Kafka -> visible in GET /v1/notifications
  (p50/p99 of N single events); ceiling: the broker round trip of the same record to a bare consumer.
- burst: 10,000 activity.due on the topic -> all in the inboxes (drain time).
- e-mail: messages/s to a local aiosmtpd server through the sender job; ceiling: the same
  messages sent by aiosmtplib straight over one connection.
Prints one JSON report.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import aiosmtplib
import asyncpg
import httpx
from aiokafka import AIOKafkaConsumer
from sqlalchemy import func, select

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import tessera_notifications.main as notifications_main
from tessera_notifications.email.models import EmailMessage
from tessera_notifications.email.service import Mailer, Outgoing, enqueue, mime_of, send_due
from tessera_notifications.inbox.models import Notification
from tessera_notifications.settings import NotificationsSettings
from tessera_shared.db import read_session, unit_of_work
from tessera_shared.events import build_event
from tessera_shared.events.contracts import ActivityDue
from tessera_shared.kafka import ensure_topics, make_producer
from tessera_shared.testing.plugin import bearer


class Sink:
    def __init__(self) -> None:
        self.count = 0

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        self.count += 1
        return "250 OK"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def due(owner: str) -> ActivityDue:
    now = datetime.now(UTC)
    return ActivityDue(activity_id=uuid.uuid4(), subject="Call back", owner_id=owner, due_at=now, remind_at=now)


async def new_database(pg: str) -> str:
    name = f"bench_notifications_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(pg.replace("postgresql+asyncpg", "postgresql") + "/postgres")
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return f"{pg}/{name}"


async def count(app) -> int:
    async with read_session(app.state.runtime.sessions) as session:
        return int((await session.execute(select(func.count()).select_from(Notification))).scalar_one())


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pg", required=True)
    parser.add_argument("--kafka", required=True)
    parser.add_argument("--singles", type=int, default=50)
    parser.add_argument("--burst", type=int, default=10_000)
    parser.add_argument("--mails", type=int, default=1_000)
    args = parser.parse_args()
    from aiosmtpd.controller import Controller

    sink = Sink()
    smtp_port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    namespace = f"bench{uuid.uuid4().hex[:6]}."
    topic = f"{namespace}crm.sales"
    await ensure_topics(args.kafka, [topic], partitions=6)
    settings = NotificationsSettings(
        database_url=await new_database(args.pg),
        kafka_bootstrap=args.kafka,
        kafka_topic_namespace=namespace,
        kafka_consumer_group=f"{namespace}notifications",
        jobs_enabled=False,
        log_json=False,
        log_level="WARNING",
        smtp_port=smtp_port,
        email_batch_size=500,
    )
    app = notifications_main.create_app(settings)
    report: dict[str, object] = {}
    producer = make_producer(args.kafka, client_id="bench")
    await producer.start()
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            headers = bearer(app, "rep1", "sales_rep")
            # Warm the consumer's assignment.
            await producer.send_and_wait(topic, build_event(due("rep1"), subject=None).to_json())
            while await count(app) < 1:  # noqa: ASYNC110 - the database is polled, no event
                await asyncio.sleep(0.05)

            # Ceiling: the same record's broker round trip to a bare consumer at the topic's end.
            bare = AIOKafkaConsumer(topic, bootstrap_servers=args.kafka, auto_offset_reset="latest", group_id=None)
            await bare.start()
            await asyncio.sleep(1.0)
            ceiling = []
            for _ in range(args.singles):
                started = time.perf_counter()
                await producer.send_and_wait(topic, build_event(due("nobody"), subject=None).to_json())
                while not any((await bare.getmany(timeout_ms=1)).values()):
                    pass
                ceiling.append(time.perf_counter() - started)
            await bare.stop()

            latencies = []
            for _ in range(args.singles):
                before = await count(app)
                started = time.perf_counter()
                await producer.send_and_wait(topic, build_event(due("rep1"), subject=None).to_json())
                while True:
                    page = (await client.get("/v1/notifications?limit=1&order=newest", headers=headers)).json()
                    if await count(app) > before and page["items"]:
                        break
                    await asyncio.sleep(0.005)
                latencies.append(time.perf_counter() - started)

            def pct(values: list[float], p: float) -> float:
                return round(sorted(values)[min(len(values) - 1, int(p * len(values)))] * 1000, 1)

            report["inbox_latency_ms"] = {"p50": pct(latencies, 0.5), "p99": pct(latencies, 0.99)}
            report["broker_round_trip_ms"] = {"p50": pct(ceiling, 0.5), "p99": pct(ceiling, 0.99)}

            before = await count(app)
            started = time.perf_counter()
            batch = [build_event(due(f"user{i % 20}"), subject=None).to_json() for i in range(args.burst)]
            for value in batch:
                await producer.send(topic, value)
            await producer.flush()
            produced = time.perf_counter() - started
            while await count(app) < before + args.burst:  # noqa: ASYNC110 - polled, no event
                await asyncio.sleep(0.1)
            report["burst"] = {
                "events": args.burst,
                "produce_s": round(produced, 2),
                "drained_s": round(time.perf_counter() - started, 2),
            }
    await producer.stop()

    # E-mail throughput through the sender job, and the SMTP client alone on the same server.
    async with app.router.lifespan_context(app):
        sessions = app.state.runtime.sessions
        async with unit_of_work(sessions) as session:
            for i in range(args.mails):
                await enqueue(
                    session,
                    Outgoing(
                        template="staff",
                        recipient_kind="user",
                        recipient=f"user{i}",
                        to_address=f"user{i}@tessera.local",
                        locale="en",
                        subject="Reminder",
                        values={
                            "title": "Reminder",
                            "body": "Call back",
                            "url": None,
                            "type": "activity.due",
                            "preferences_url": "http://x",
                        },
                        customer_id=None,
                        source_type="activity.due",
                        source_event_id=str(uuid.uuid4()),
                    ),
                    settings,
                )
        sink.count = 0
        started = time.perf_counter()
        counts = await send_due(sessions, datetime.now(UTC), settings, Mailer(settings))
        job_s = time.perf_counter() - started
        async with read_session(sessions) as session:
            rows = list((await session.execute(select(EmailMessage).limit(args.mails))).scalars())
        messages = [mime_of(r, settings) for r in rows]
        started = time.perf_counter()
        async with aiosmtplib.SMTP(hostname="127.0.0.1", port=smtp_port, start_tls=False) as smtp:
            for m in messages:
                await smtp.send_message(m)
        direct_s = time.perf_counter() - started
        report["email"] = {
            "messages": args.mails,
            "sent": counts.get("sent", 0),
            "job_per_s": round(args.mails / job_s, 1),
            "ceiling_smtp_client_per_s": round(len(messages) / direct_s, 1),
        }
    controller.stop()
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    asyncio.run(main())
