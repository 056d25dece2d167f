"""Profile of the customer service's batch upsert (bench row 15) in process.

The customer app runs in this process against a scratch PostgreSQL database (tests/bench/scratch.py)
through an ASGI transport: ``--calls`` calls of 1,000 new customers, then the same calls again (every
input unchanged), then once more with every name changed; one call of each pass (``--profile``) runs
under cProfile and its top functions are printed. No Kafka: the outbox rows stay in the table.

    .venv/bin/python tests/bench/batch_profile.py --calls 5 --profile 2
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import json
import os
import pstats
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import event

sys.path.insert(0, str(Path(__file__).parent))

from scratch import scratch_database


class SqlTimes:
    """Seconds spent per SQL statement (its first 90 characters), from SQLAlchemy's cursor events."""

    def __init__(self, engine: Any) -> None:
        self.times: dict[str, list[float]] = {}
        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_cursor_execute", self._after)

    def reset(self) -> None:
        self.times.clear()

    def _before(self, conn: Any, cursor: Any, statement: str, *a: Any) -> None:
        conn.info.setdefault("t0", []).append(time.perf_counter())

    def _after(self, conn: Any, cursor: Any, statement: str, *a: Any) -> None:
        took = time.perf_counter() - conn.info["t0"].pop()
        key = " ".join(statement.split())[:90]
        entry = self.times.setdefault(key, [0, 0.0])
        entry[0] += 1
        entry[1] += took

    def show(self) -> None:
        total = sum(t for _, t in self.times.values())
        print(f"SQL: {sum(n for n, _ in self.times.values())} statements, {total:.3f}s")
        for key, (n, took) in sorted(self.times.items(), key=lambda kv: -kv[1][1])[:15]:
            print(f"  {took:7.3f}s {n:5d}x  {key}")


def _input(resource: str, i: int, tag: str, name: str, customer: str) -> dict[str, Any]:
    if resource == "deals":
        title = f"{name} {i} {tag}"
        return {
            "external_id": f"b-{tag}-{i}",
            "customer_id": customer,
            "title": title,
            "amount": "100.00",
            "currency": "EUR",
        }
    if resource == "leads":
        return {
            "external_id": f"b-{tag}-{i}",
            "name": f"{name} {i} {tag}",
            "email": f"b{i}.{tag}@example.com",
            "source": "web_form",
        }
    return {
        "external_id": f"batch-{tag}-{i}",
        "kind": "person",
        "name": f"{name} {i} {tag}",
        "email": f"batch{i}.{tag}@example.com",
        "tags": ["batch"],
    }


def bodies(resource: str, calls: int, size: int, tag: str, name: str) -> list[bytes]:
    customer = str(uuid.UUID(int=7))
    return [
        json.dumps(
            {
                "id_property": "external_id",
                "inputs": [_input(resource, i, tag, name, customer) for i in range(start, start + size)],
            }
        ).encode()
        for start in range(0, calls * size, size)
    ]


def _app(service: str, url: str) -> Any:
    if service == "sales":
        import tessera_sales.main as sales_main
        from tessera_sales.testing import sales_settings
        from tessera_shared.testing.customers import StubCustomers

        app = sales_main.create_app(sales_settings(url))
        app.state.customer_directory = StubCustomers()  # every customer id is a live customer
        return app
    import tessera_customer.main as customer_main
    from tessera_customer.settings import CustomerSettings

    return customer_main.create_app(CustomerSettings(database_url=url, kafka_enabled=False, log_json=False))


async def run(args: argparse.Namespace) -> None:
    from tessera_shared.testing.plugin import bearer

    service = "customer" if args.resource == "customers" else "sales"
    async with scratch_database(args.pg, service) as db:
        app = _app(service, db.url)
        sql = SqlTimes(app.state.runtime.engine.sync_engine) if args.sql else None
        async with app.router.lifespan_context(app):
            headers = {**bearer(app, "boss", "sales_manager"), "Content-Type": "application/json"}
            transport = httpx.ASGITransport(app=app)
            tag = uuid.uuid4().hex[:6]
            async with httpx.AsyncClient(transport=transport, base_url="http://bench", timeout=600) as c:
                passes = (("created", "Batch"), ("unchanged", "Batch"), ("updated", "Renamed"))
                for label, name in passes[: args.passes]:
                    calls = bodies(args.resource, args.calls, args.size, tag, name)
                    cpu0, t0 = time.process_time(), time.perf_counter()
                    counts: dict[str, int] = {}
                    per_call: list[float] = []
                    for i, body in enumerate(calls):
                        call_cpu = time.process_time()
                        prof = cProfile.Profile() if i == args.profile else None
                        if prof:
                            prof.enable()
                            if sql:
                                sql.reset()
                        r = await c.post(f"/v1/{args.resource}/batch/upsert", content=body, headers=headers)
                        if prof:
                            prof.disable()
                            out = io.StringIO()
                            pstats.Stats(prof, stream=out).sort_stats(args.sort).print_stats(args.top)
                            print(f"--- profile of call {i} ({label}) ---\n{out.getvalue()}")
                            if sql:
                                sql.show()
                        per_call.append(time.process_time() - call_cpu)
                        r.raise_for_status()
                        for item in r.json()["results"]:
                            counts[item["status"]] = counts.get(item["status"], 0) + 1
                    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
                    rows = sum(counts.values())
                    print(
                        f"{label}: {rows} rows in {wall:.2f}s = {rows / wall:.0f} rows/s, "
                        f"{cpu / rows * 1e6:.0f} us CPU per row (this process) {counts}; the calls' best "
                        f"{min(per_call) / args.size * 1e6:.0f}, median "
                        f"{statistics.median(per_call) / args.size * 1e6:.0f} us per row (the call alone), "
                        f"load {os.getloadavg()[0]:.1f}"
                    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--pg", default=os.environ.get("TESSERA_TEST_PG", "postgresql+asyncpg://postgres@127.0.0.1:55432"))
    p.add_argument("--resource", choices=["customers", "deals", "leads"], default="customers")
    p.add_argument("--calls", type=int, default=5)
    p.add_argument("--size", type=int, default=1000)
    p.add_argument("--profile", type=int, default=-1, help="the call of each pass to profile (-1: none)")
    p.add_argument("--sort", default="cumulative")
    p.add_argument("--sql", action="store_true", help="time the profiled call's SQL statements")
    p.add_argument("--top", type=int, default=40)
    p.add_argument("--passes", type=int, default=3, help="1: the created pass alone (for py-spy), 2: and unchanged")
    asyncio.run(run(p.parse_args()))


if __name__ == "__main__":
    main()
