"""`make bench` row 13: partner webhooks (issue 22's benchmarks), beside a ceiling measured in
the same run.

The notifications service runs as its own uvicorn process (PostgreSQL, real Kafka, its delivery
workers on); the partner's receiver is another process (tests/bench/webhook_sink.py: 200 at
once, arrival times kept); facts come from a Kafka producer here, as a relay sends them.

- 13 fan-out unordered: N ``customer.created`` on the topic → delivered to one unordered
  endpoint, deliveries/s from the first arrival to the last (target ≥ 500/s).
- 13 fan-out ordered: N facts about 200 customers → an ordered endpoint (one at a time per
  customer), deliveries/s (target ≥ 200/s).
  Ceiling of both: the same receiver fed the same bodies by a bare httpx loop (64 in flight,
  16 clients of 4 connections, as the service's lanes).
- 13 latency: one fact at a time at idle, sent → arrived at the receiver, p99 (target < 300 ms);
  ceiling: the broker round trip of the same record to a bare consumer.

In `make bench` (harness.py, after row 12; sizes BENCH_WEBHOOKS_EVENTS, BENCH_WEBHOOKS_SINGLES),
or alone, at a reduced size:

    .venv/bin/python tests/bench/webhooks_rows.py --events 2000 --singles 30
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from notifications_rows import (  # noqa: E402 - beside this file
    ROOT,
    Process,
    _free_port,
    log,
    pct,
    pg_dsn,
    token,
    wait_http,
)

CUSTOMERS = 200

# BENCH_WEBHOOKS_PROFILE=<file>: the service runs under cProfile timed by the process's CPU clock (a
# wall clock would charge a busy machine's preemptions to whatever ran then), the stats written when
# it stops (uvicorn re-raises SIGTERM after its shutdown, which would end the process before the dump).
_PROFILED = """
import cProfile, signal, sys, time
signal.raise_signal = lambda s: None
from uvicorn.main import main
sys.argv = ["uvicorn", *sys.argv[1:]]
profile = cProfile.Profile(time.process_time)
profile.enable()
try:
    main()
except SystemExit:
    pass
finally:
    profile.disable()
    profile.dump_stats({out!r})
"""


def _created(customer: uuid.UUID, i: int) -> tuple[bytes, bytes]:
    from tessera_shared.events import build_event
    from tessera_shared.events.contracts import CustomerCreated

    data = CustomerCreated(
        customer_id=customer,
        kind="organization",
        name=f"Bench {i}",
        owner_id="rep1",
        status="active",
        created_at=datetime.now(UTC),
    )
    return build_event(data, subject=customer).to_json(), str(customer).encode()


async def webhooks_rows(
    report: Any,
    *,
    pg: str,
    kafka: str,
    work: Path,
    events: int = int(os.environ.get("BENCH_WEBHOOKS_EVENTS", "5000")),
    singles: int = int(os.environ.get("BENCH_WEBHOOKS_SINGLES", "50")),
) -> None:
    """Row 13 into ``report`` (harness.Report)."""
    from aiokafka import AIOKafkaConsumer
    from harness import cpu_seconds

    from tessera_shared.kafka import ensure_topics, make_producer

    tag = uuid.uuid4().hex[:8]
    namespace = f"benchwh{tag}."
    database = f"bench_webhooks_{tag}"
    topic = f"{namespace}crm.customer"
    admin = await asyncpg.connect(pg_dsn(pg))
    await admin.execute(f'CREATE DATABASE "{database}"')
    await admin.close()
    await ensure_topics(kafka, [f"{namespace}crm.{s}" for s in ("customer", "sales", "service-desk", "billing")])
    pre = "TESSERA_NOTIFICATIONS_"
    port, sink_port = _free_port(), _free_port()
    env = {
        **os.environ,
        pre + "DATABASE_URL": f"{pg.rstrip('/')}/{database}",
        pre + "KAFKA_BOOTSTRAP": kafka,
        pre + "KAFKA_TOPIC_NAMESPACE": namespace,
        pre + "KAFKA_CONSUMER_GROUP": f"{namespace}notifications",
        pre + "ENVIRONMENT": "local",  # loopback receivers and plain http allowed
        pre + "TOKEN_REVOCATIONS": "false",
        pre + "LOG_JSON": "false",
        pre + "LOG_LEVEL": "WARNING",
        pre + "JOBS_ENABLED": "false",
    }
    sink = Process(
        "webhook-sink", [sys.executable, str(HERE / "webhook_sink.py"), str(sink_port)], env, work / "sink.log"
    )
    command = [sys.executable, "-m", "uvicorn", "tessera_notifications.main:create_app", "--factory"]
    if profile := os.environ.get("BENCH_WEBHOOKS_PROFILE"):  # a cProfile of the service, written at its exit
        command = [sys.executable, "-c", _PROFILED.format(out=profile), *command[3:]]
    command += ["--host", "127.0.0.1", "--port", str(port), "--no-access-log"]
    proc = Process("notifications", command, env, work / "notifications-webhooks-bench.log")
    base, receiver = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{sink_port}"
    headers = {"Authorization": f"Bearer {token(('admin',), 'admin')}"}
    producer = make_producer(kafka, client_id="bench-webhooks")
    try:
        await wait_http(f"{receiver}/stats?path=/x", timeout=30, proc=sink)
        await wait_http(f"{base}/readyz", timeout=90, proc=proc)
        await producer.start()
        async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=64)) as client:

            async def endpoint(path: str, ordered: bool) -> str:
                r = await client.post(
                    f"{base}/v1/webhooks/endpoints",
                    json={"url": f"{receiver}{path}", "event_types": ["customer.created"], "ordered": ordered},
                    headers=headers,
                )
                r.raise_for_status()
                return str(r.json()["id"])

            async def disable(endpoint_id: str) -> None:
                r = await client.patch(
                    f"{base}/v1/webhooks/endpoints/{endpoint_id}", json={"enabled": False}, headers=headers
                )
                r.raise_for_status()

            async def stats(path: str) -> dict[str, Any]:
                answer: dict[str, Any] = (await client.get(f"{receiver}/stats", params={"path": path})).json()
                return answer

            async def arrived(path: str, count: int, seconds: float) -> list[float]:
                deadline = time.monotonic() + seconds
                while True:
                    found = await stats(path)
                    if found["count"] >= count:
                        return list(found["times"])
                    if time.monotonic() > deadline:
                        raise TimeoutError(f"{found['count']} of {count} deliveries at {path} in {seconds:g} s")
                    await asyncio.sleep(0.05)

            # Latency at idle (and the consumer's partitions assigned by the first one).
            latency_id = await endpoint("/l", ordered=False)
            bodies = [_created(uuid.uuid4(), i) for i in range(singles + 1)]
            value, key = bodies[0]
            await producer.send_and_wait(topic, value, key=key)
            await arrived("/l", 1, 90)
            latencies = []
            for n, (value, key) in enumerate(bodies[1:], start=2):
                sent = time.time()
                await producer.send_and_wait(topic, value, key=key)
                times = await arrived("/l", n, 30)
                latencies.append((times[-1] - sent) * 1000)
            await disable(latency_id)

            bare = AIOKafkaConsumer(topic, bootstrap_servers=kafka, auto_offset_reset="latest", group_id=None)
            await bare.start()
            try:
                await bare.seek_to_end()
                await asyncio.sleep(1.0)
                trips = []
                for value, key in bodies[:singles]:
                    t0 = time.perf_counter()
                    await producer.send_and_wait(topic, value, key=key)
                    while not any((await bare.getmany(timeout_ms=5)).values()):
                        pass
                    trips.append((time.perf_counter() - t0) * 1000)
            finally:
                await bare.stop()
            report.add(
                "13 webhooks committed->delivered idle p99 (target 300)",
                pct(latencies, 99),
                "ms",
                "broker round trip p99",
                pct(trips, 99),
                lower_is_better=True,
                p50=round(pct(latencies, 50), 1),
                samples=len(latencies),
            )

            # Ceiling: the receiver fed the same bodies by a bare httpx loop, 64 in flight, through
            # 16 clients of 4 connections as the service's lanes (one pool of 64 connections costs
            # its sender more CPU than the requests: that pool, not the receiver, would be measured).
            payloads = [_created(uuid.uuid4(), i)[0] for i in range(events)]
            queue = list(payloads)
            senders = [httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=4)) for _ in range(16)]

            async def post_all(sender: httpx.AsyncClient) -> None:
                while queue:
                    body = queue.pop()
                    await sender.post(f"{receiver}/c", content=body, headers={"content-type": "application/json"})

            try:
                t0, c0 = time.perf_counter(), time.process_time()
                await asyncio.gather(*(post_all(senders[i % 16]) for i in range(64)))
                ceiling = events / (time.perf_counter() - t0)
                ceiling_cpu_us = round((time.process_time() - c0) / events * 1e6)  # the bare sender's own
            finally:
                for sender in senders:
                    await sender.aclose()

            async def fan_out(path: str, ordered: bool, customers: list[uuid.UUID]) -> tuple[float, float]:
                endpoint_id = await endpoint(path, ordered)
                cpu0 = cpu_seconds(proc.proc.pid) or 0.0  # the service's CPU (consumer and sender)
                for i in range(events):
                    value, key = _created(customers[i % len(customers)], i)
                    await producer.send(topic, value, key=key)
                await producer.flush()
                times = await arrived(path, events, 600)
                cpu_us[path] = round(((cpu_seconds(proc.proc.pid) or 0.0) - cpu0) / events * 1e6)
                await disable(endpoint_id)
                first, last = min(times), max(times)
                # How fast the consumer wrote the deliveries (its share of the time, for the reader).
                db = await asyncpg.connect(pg_dsn(pg, database))
                try:
                    spread = await db.fetchval(
                        "SELECT extract(epoch FROM max(created_at) - min(created_at)) FROM webhook_deliveries"
                        " WHERE endpoint_id = $1",
                        uuid.UUID(endpoint_id),
                    )
                finally:
                    await db.close()
                written[path] = round(events / max(float(spread or 0), 1e-6))
                log(f"13 fan-out {path}: the consumer wrote the deliveries at {written[path]}/s")
                return events / max(last - first, 1e-6), last - first

            written: dict[str, int] = {}
            cpu_us: dict[str, int] = {}
            rate, took = await fan_out("/u", False, [uuid.uuid4() for _ in range(events)])
            report.add(
                f"13 webhooks fan-out, one unordered endpoint, {events} events (target 500)",
                rate,
                "deliveries/s",
                "bare httpx loop to the same receiver",
                ceiling,
                seconds=round(took, 2),
                written_per_s=written["/u"],
                service_cpu_us_per_delivery=cpu_us["/u"],
                ceiling_cpu_us_per_request=ceiling_cpu_us,
            )
            rate, took = await fan_out("/o", True, [uuid.uuid4() for _ in range(CUSTOMERS)])
            report.add(
                f"13 webhooks fan-out, ordered endpoint, {CUSTOMERS} customers (target 200)",
                rate,
                "deliveries/s",
                "bare httpx loop to the same receiver",
                ceiling,
                seconds=round(took, 2),
                written_per_s=written["/o"],
                service_cpu_us_per_delivery=cpu_us["/o"],
            )
    finally:
        await producer.stop()
        proc.stop()
        sink.stop()
        admin = await asyncpg.connect(pg_dsn(pg))
        await admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        await admin.close()
        from notifications_rows import _delete_topics

        await _delete_topics(kafka, namespace)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--pg", default=os.environ.get("TESSERA_TEST_PG", "postgresql+asyncpg://postgres@127.0.0.1:55432"))
    p.add_argument("--kafka", default=os.environ.get("TESSERA_TEST_KAFKA", "127.0.0.1:19092"))
    p.add_argument("--events", type=int, default=5000)
    p.add_argument("--singles", type=int, default=50)
    args = p.parse_args(argv)
    from harness import Report

    report = Report()
    work = ROOT / ".bench" / "logs"
    work.mkdir(parents=True, exist_ok=True)
    asyncio.run(
        webhooks_rows(
            report, pg=args.pg.rstrip("/"), kafka=args.kafka, work=work, events=args.events, singles=args.singles
        )
    )
    log("\n" + report.table())
    for row in report.rows:  # CPU per delivery and the like (make bench keeps them in its JSON)
        if row.get("extra"):
            log(f"{row['name']}: {row['extra']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
