"""`make bench` row 12: the notifications service (issue 21's benchmarks), each figure beside a
ceiling measured in the same run.

The service runs as its own uvicorn process (as in a container: PostgreSQL, real Kafka, its
sender job on), the facts come from a Kafka producer in this process, as the other services'
relays would send them:

- 12 inbox: an ``activity.due`` sent → visible in ``GET /v1/notifications`` (p50/p99 of single
  facts at idle; target p99 < 500 ms); ceiling: the same record's broker round trip to a bare
  consumer.
- 12 SSE: an ``activity.due`` sent → its ``event: notification`` read from an open
  ``/v1/notifications/stream`` (p99; target < 1 s); same ceiling.
- 12 e-mail: messages/s from the sender job to a local aiosmtpd server (target ≥ 50/s); ceiling:
  the same messages sent to the same server by aiosmtplib straight over one connection.
- 12 burst: 10,000 ``activity.due`` on the topic → all in the inboxes (target < 60 s); ceiling:
  the time to produce them.

In `make bench` (harness.py, after row 11; sizes: BENCH_NOTIFICATIONS_SINGLES, _BURST, _MAILS),
or alone, at a reduced size (no other row, no stack):

    .venv/bin/python tests/bench/notifications_rows.py --singles 20 --burst 2000 --mails 300
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def pct(values: list[float], p: float) -> float:
    """The p-th percentile, interpolated (as harness.pct)."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = (len(ordered) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def pg_dsn(url: str, db: str = "postgres") -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://").rstrip("/") + f"/{db}"


def token(roles: tuple[str, ...], subject: str) -> str:
    from tessera_shared.auth import TokenCodec
    from tessera_shared.settings import LOCAL_SIGNING_KEY

    codec = TokenCodec(algorithm="HS256", signing_key=LOCAL_SIGNING_KEY, issuer="tessera-gateway", audience="tessera")
    return codec.issue(subject, roles, ttl=timedelta(hours=3))


class Process:
    """A child process whose output goes to a log file; stopped with SIGTERM (then SIGKILL)."""

    def __init__(self, name: str, cmd: list[str], env: dict[str, str], log_path: Path) -> None:
        self.name = name
        self.log_path = log_path
        self._log = open(log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=self._log, stderr=subprocess.STDOUT)

    def stop(self, timeout: float = 40) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self._log.close()


async def wait_http(url: str, timeout: float, proc: Process) -> None:
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(timeout=1) as c:
        while time.monotonic() < deadline:
            if proc.proc.poll() is not None:
                raise RuntimeError(f"{proc.name} exited; see {proc.log_path}")
            with contextlib.suppress(httpx.HTTPError):
                if (await c.get(url)).status_code == 200:
                    return
            await asyncio.sleep(0.1)
    raise TimeoutError(f"{url} not ready in {timeout}s")


class _Sink:
    """The SMTP server's handler: counts what it accepts."""

    def __init__(self) -> None:
        self.count = 0

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        self.count += 1
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _due(owner: str) -> Any:
    from tessera_shared.events.contracts import ActivityDue

    now = datetime.now(UTC)
    return ActivityDue(activity_id=uuid.uuid4(), subject="Call back", owner_id=owner, due_at=now, remind_at=now)


def _envelope(owner: str) -> bytes:
    from tessera_shared.events import build_event

    return build_event(_due(owner), subject=None).to_json()


async def notifications_rows(
    report: Any,
    *,
    pg: str,
    kafka: str,
    work: Path,
    singles: int = int(os.environ.get("BENCH_NOTIFICATIONS_SINGLES", "50")),
    burst: int = int(os.environ.get("BENCH_NOTIFICATIONS_BURST", "10000")),
    mails: int = int(os.environ.get("BENCH_NOTIFICATIONS_MAILS", "1000")),
) -> None:
    """Row 12 into ``report`` (harness.Report); sizes from the BENCH_NOTIFICATIONS_* variables."""
    from aiosmtpd.controller import Controller
    from harness import cpu_seconds

    from tessera_shared.kafka import ensure_topics, make_producer

    sink = _Sink()
    smtp_port = _free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    tag = uuid.uuid4().hex[:8]
    namespace = f"bench{tag}."
    database = f"bench_notifications_{tag}"
    topic = f"{namespace}crm.sales"
    admin = await asyncpg.connect(pg_dsn(pg))
    await admin.execute(f'CREATE DATABASE "{database}"')
    await admin.close()
    port = _free_port()
    pre = "TESSERA_NOTIFICATIONS_"
    env = {
        **os.environ,
        pre + "DATABASE_URL": f"{pg.rstrip('/')}/{database}",
        pre + "KAFKA_BOOTSTRAP": kafka,
        pre + "KAFKA_TOPIC_NAMESPACE": namespace,
        pre + "KAFKA_CONSUMER_GROUP": f"{namespace}notifications",
        pre + "ENVIRONMENT": "local",
        pre + "TOKEN_REVOCATIONS": "false",
        pre + "LOG_JSON": "false",
        pre + "LOG_LEVEL": "WARNING",
        pre + "SMTP_PORT": str(smtp_port),
        pre + "EMAIL_JOB_INTERVAL": "0.2",
        pre + "EMAIL_BATCH_SIZE": "500",
        pre + "STREAM_POLL_SECONDS": "0.2",
    }
    await ensure_topics(kafka, [f"{namespace}crm.{s}" for s in ("customer", "sales", "service-desk", "billing")])
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "tessera_notifications.main:create_app",
        "--factory",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--no-access-log",
    ]
    proc = Process("notifications", command, env, work / "notifications-bench.log")
    base = f"http://127.0.0.1:{port}"
    rep = {"Authorization": f"Bearer {token(('sales_rep',), 'rep1')}"}
    producer = make_producer(kafka, client_id="bench-notifications")
    db = None
    try:
        await wait_http(f"{base}/readyz", timeout=90, proc=proc)
        await producer.start()
        db = await asyncpg.connect(pg_dsn(pg, database))

        async def inbox_rows() -> int:
            return int(await db.fetchval("SELECT count(*) FROM notifications"))

        async with httpx.AsyncClient(timeout=30) as client:
            # Warm-up: the consumer has its partitions once the first fact lands.
            await producer.send_and_wait(topic, _envelope("rep1"))
            deadline = time.monotonic() + 90
            while await inbox_rows() < 1:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"the first activity.due reached no inbox in 90 s; see {proc.log_path}")
                await asyncio.sleep(0.05)

            # Ceiling: the broker round trip of one record to a bare consumer at the topic's end.
            from aiokafka import AIOKafkaConsumer

            bare = AIOKafkaConsumer(topic, bootstrap_servers=kafka, auto_offset_reset="latest", group_id=None)
            await bare.start()
            try:
                await bare.seek_to_end()
                await asyncio.sleep(1.0)
                trips = []
                for _ in range(singles):
                    t0 = time.perf_counter()
                    await producer.send_and_wait(topic, _envelope("nobody"))
                    while not any((await bare.getmany(timeout_ms=5)).values()):
                        pass
                    trips.append((time.perf_counter() - t0) * 1000)
            finally:
                await bare.stop()

            # Inbox: one fact at a time, GET until it is listed.
            latencies = []
            for _ in range(singles):
                before = (await client.get(f"{base}/v1/notifications/unread-count", headers=rep)).json()["unread"]
                t0 = time.perf_counter()
                await producer.send_and_wait(topic, _envelope("rep1"))
                while (await client.get(f"{base}/v1/notifications/unread-count", headers=rep)).json()[
                    "unread"
                ] <= before:
                    if time.perf_counter() - t0 > 30:
                        raise TimeoutError("an activity.due was not in the inbox in 30 s")
                    await asyncio.sleep(0.005)
                latencies.append((time.perf_counter() - t0) * 1000)
            report.add("12 notifications inbox p50", pct(latencies, 50), "ms", "broker round trip p50", pct(trips, 50))
            report.add(
                "12 notifications inbox p99 (target 500)",
                pct(latencies, 99),
                "ms",
                "broker round trip p99",
                pct(trips, 99),
                lower_is_better=True,
                samples=len(latencies),
            )

            # SSE: an open stream; the time from the send to the event's line.
            sse = []
            async with client.stream("GET", f"{base}/v1/notifications/stream", headers=rep, timeout=None) as answer:
                lines = answer.aiter_lines()
                assert (await anext(lines)).startswith("retry:")
                for _ in range(singles):
                    t0 = time.perf_counter()
                    await producer.send_and_wait(topic, _envelope("rep1"))
                    async with asyncio.timeout(30):
                        while not (await anext(lines)).startswith("event: notification"):
                            pass
                    sse.append((time.perf_counter() - t0) * 1000)
            report.add(
                "12 notifications SSE delivery p99 (target 1000)",
                pct(sse, 99),
                "ms",
                "broker round trip p99",
                pct(trips, 99),
                lower_is_better=True,
                samples=len(sse),
                p50=pct(sse, 50),
            )

            # Burst: many facts for 20 users at once; drained when all are in the inboxes.
            before = await inbox_rows()
            values = [_envelope(f"user{i % 20}") for i in range(burst)]
            cpu0 = cpu_seconds(proc.proc.pid) or 0.0  # the service's CPU (as load on the 2 cores varies)
            t0 = time.perf_counter()
            for value in values:
                await producer.send(topic, value)
            await producer.flush()
            produced = time.perf_counter() - t0
            deadline = time.monotonic() + 600
            while await inbox_rows() < before + burst:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"burst not drained in 600 s: {await inbox_rows() - before} of {burst}")
                await asyncio.sleep(0.1)
            drained = time.perf_counter() - t0
            cpu = (cpu_seconds(proc.proc.pid) or 0.0) - cpu0
            report.add(
                f"12 notifications burst of {burst} activity.due drained (target 60 s at 10k)",
                drained,
                "s",
                "producing them",
                produced,
                lower_is_better=True,
                per_s=round(burst / drained, 1),
                service_cpu_us_per_fact=round(cpu / burst * 1e6),
            )

        # E-mail: messages written as the routing writes them; the job (every 0.2 s) sends them.
        await _email_row(report, db, env, pre, smtp_port, sink, mails, proc.proc.pid)
    finally:
        await producer.stop()
        if db is not None:
            await db.close()
        proc.stop()
        controller.stop()
        admin = await asyncpg.connect(pg_dsn(pg))
        await admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        await admin.close()
        await _delete_topics(kafka, namespace)


async def _email_row(
    report: Any, db: Any, env: dict[str, str], pre: str, smtp_port: int, sink: _Sink, mails: int, pid: int
) -> None:
    import aiosmtplib
    from harness import cpu_seconds
    from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

    from tessera_notifications.email.models import EmailMessage
    from tessera_notifications.email.service import Outgoing, enqueue, mime_of
    from tessera_notifications.settings import NotificationsSettings

    settings = NotificationsSettings(database_url=env[pre + "DATABASE_URL"], smtp_port=smtp_port, log_json=False)
    engine = create_async_engine(settings.database_url)
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    try:
        sink.count = 0
        async with sessions() as session, session.begin():
            for i in range(mails):
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
                            "preferences_url": "http://127.0.0.1:8000/api/v1/notification-preferences",
                        },
                        customer_id=None,
                        source_type="activity.due",
                        source_event_id=str(uuid.uuid4()),
                    ),
                    settings,
                )
        cpu0 = cpu_seconds(pid) or 0.0
        t0 = time.perf_counter()  # committed: the job may take them from now on
        deadline = time.monotonic() + 600
        while await db.fetchval("SELECT count(*) FROM email_messages WHERE status = 'sent'") < mails:
            if time.monotonic() > deadline:
                raise TimeoutError("the e-mails were not sent in 600 s")
            await asyncio.sleep(0.05)
        job = mails / (time.perf_counter() - t0)
        cpu = (cpu_seconds(pid) or 0.0) - cpu0
        accepted = sink.count
        async with sessions() as session:
            from sqlalchemy import select

            rows = list((await session.execute(select(EmailMessage).limit(mails))).scalars())
        messages = [mime_of(r, settings) for r in rows]
        t0, c0 = time.perf_counter(), time.process_time()
        async with aiosmtplib.SMTP(hostname="127.0.0.1", port=smtp_port, start_tls=False) as smtp:
            for m in messages:
                await smtp.send_message(m)
        ceiling = len(messages) / (time.perf_counter() - t0)
        # This process's CPU for the ceiling's sends (the aiosmtpd server runs in this process too).
        ceiling_cpu = (time.process_time() - c0) / len(messages)
        report.add(
            "12 notifications e-mail to local SMTP (target 50)",
            job,
            "msg/s",
            "aiosmtplib alone, same server",
            ceiling,
            messages=mails,
            service_cpu_us_per_msg=round(cpu / mails * 1e6),
            ceiling_cpu_us_per_msg_with_server=round(ceiling_cpu * 1e6),
            accepted_by_server=accepted,
        )
    finally:
        await engine.dispose()


async def _delete_topics(kafka: str, namespace: str) -> None:
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=kafka)
    await admin.start()
    try:
        mine = [t for t in await admin.list_topics() if t.startswith(namespace)]
        if mine:
            await admin.delete_topics(mine)
    finally:
        await admin.close()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--pg", default=os.environ.get("TESSERA_TEST_PG", "postgresql+asyncpg://postgres@127.0.0.1:55432"))
    p.add_argument("--kafka", default=os.environ.get("TESSERA_TEST_KAFKA", "127.0.0.1:19092"))
    p.add_argument("--singles", type=int, default=50)
    p.add_argument("--burst", type=int, default=10_000)
    p.add_argument("--mails", type=int, default=1_000)
    args = p.parse_args(argv)
    sys.path.insert(0, str(HERE))
    from harness import Report  # the rows' format, as make bench prints them

    report = Report()
    work = ROOT / ".bench" / "logs"
    work.mkdir(parents=True, exist_ok=True)
    asyncio.run(
        notifications_rows(
            report,
            pg=args.pg.rstrip("/"),
            kafka=args.kafka,
            work=work,
            singles=args.singles,
            burst=args.burst,
            mails=args.mails,
        )
    )
    log("\n" + report.table())
    for row in report.rows:  # CPU per fact or message and the like (make bench keeps them in its JSON)
        if row.get("extra"):
            log(f"{row['name']}: {row['extra']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
