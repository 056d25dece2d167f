"""Bench row (issue 23 item 5): a bulk export of n customers as CSV, its time and the peak RSS
of the process that runs it, beside ``COPY (SELECT the same columns) TO STDOUT`` as the ceiling.

The export runs as the customer service's exports job runs it (tessera_shared.exports.run_exports,
its default page size, chunks written to the database) in a child process of its own, so the peak
RSS is the exporter's alone (the child reports ``ru_maxrss``). Targets at 1M: < 60 s, < 300 MB.

Usage (from the repo root): .venv/bin/python tests/bench/export_customers.py --n 1000000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parent))
from scratch import scratch_database

# n customers seeded by SQL (the harness's SEED_CUSTOMERS, copied here so this row does not
# import the harness): names, e-mails, owners, statuses, countries, tiers.
SEED_CUSTOMERS = """
INSERT INTO customers (id, kind, name, email, owner_id, status, tags, created_at, updated_at, version, name_key,
                       channels, custom_attributes, preferences, purchase_count, lifetime_values, monetary,
                       country, tier, relation, external_id, city)
SELECT md5('bench-customer-' || i)::uuid,
       CASE WHEN i % 4 = 0 THEN 'organization' ELSE 'person' END,
       CASE WHEN i % 1000 = 0 THEN '=1+' || i ELSE 'Customer ' || i END,
       'customer.' || i || '@example.com', 'rep' || (i % 20),
       (ARRAY['non_customer','prospect','first_time','repeat','loyal','churned'])[(i % 6) + 1],
       '["bench","vip"]'::jsonb, now() - (i % 1000) * interval '1 hour', now(), 1, 'customer ' || i,
       '[]'::jsonb, '{}'::jsonb, '[]'::jsonb, 0, '{}'::jsonb, (i % 5000) * 1.25,
       (ARRAY['DE','FR','GB','US','ES','IT','NL','SE','PL','AT','DK'])[(i % 11) + 1],
       (ARRAY['key','ordinary','small'])[(i % 3) + 1], 'consumer', 'ext-' || i, 'Berlin'
FROM generate_series($1::int, $2::int) AS i
"""
# The ceiling: the database alone writing the same columns as CSV to this process.
COPY_SQL = """
SELECT id, external_id, kind, name, email, phone, owner_id, status, tags, country, city, tier,
       lifecycle_stage, monetary, created_at, updated_at
FROM customers WHERE merged_into_id IS NULL ORDER BY id
"""


async def _export_in_this_process(url: str) -> dict[str, Any]:
    """The child: ask for an export as a manager would, run the exports job once, report."""
    from sqlalchemy import insert, select

    from tessera_customer.exports.models import EXPORTS
    from tessera_customer.exports.sources import SOURCES
    from tessera_customer.settings import CustomerSettings
    from tessera_shared.db import create_engine, new_id, session_factory, utcnow
    from tessera_shared.exports.service import run_exports

    settings = CustomerSettings(database_url=url, kafka_enabled=False, jobs_enabled=False, log_json=False)
    engine = create_engine(url)
    try:
        sessions = session_factory(engine)
        source = SOURCES["customers"]
        async with sessions() as session, session.begin():
            job_id = new_id()
            await session.execute(
                insert(EXPORTS.jobs).values(
                    id=job_id,
                    resource="customers",
                    format="csv",
                    fields=list(source.default_fields),
                    filter_groups=[],
                    scope={},
                    requested_by="bench",
                    status="queued",
                    created_at=utcnow(),
                )
            )
        t0 = time.perf_counter()
        cpu_before = sum(resource.getrusage(resource.RUSAGE_SELF)[:2])
        await run_exports(sessions, EXPORTS, SOURCES, utcnow(), ttl_seconds=3600, page_rows=settings.export_page_rows)
        seconds = time.perf_counter() - t0
        async with sessions() as session:
            job = (await session.execute(select(EXPORTS.jobs).where(EXPORTS.jobs.c.id == job_id))).mappings().one()
    finally:
        await engine.dispose()
    return {
        "seconds": round(seconds, 3),
        "status": job["status"],
        "rows": job["rows_written"],
        "bytes": job["bytes_written"],
        "page_rows": settings.export_page_rows,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        # The machine is shared: the exporter's own CPU time says what the wall time cannot.
        "cpu_seconds": round(sum(resource.getrusage(resource.RUSAGE_SELF)[:2]) - cpu_before, 2),
    }


async def _copy_ceiling(dsn: str) -> dict[str, Any]:
    conn = await asyncpg.connect(dsn)
    size = 0

    async def sink(data: bytes) -> None:
        nonlocal size
        size += len(data)

    try:
        t0 = time.perf_counter()
        await conn.copy_from_query(COPY_SQL, output=sink, format="csv", header=True)
        return {"seconds": round(time.perf_counter() - t0, 3), "bytes": size}
    finally:
        await conn.close()


async def export_job(pg_url: str, n: int) -> dict[str, Any]:
    """Seed n customers in a scratch database, export them as CSV in a child process, and time
    COPY ... TO STDOUT of the same columns; the database is dropped after."""
    async with scratch_database(pg_url, "customer") as db:
        conn = await asyncpg.connect(db.dsn)
        try:
            t0 = time.perf_counter()
            step = 200_000
            for start in range(1, n + 1, step):
                await conn.execute(SEED_CUSTOMERS, start, min(n, start + step - 1))
            await conn.execute("VACUUM ANALYZE customers")
            seeded = time.perf_counter() - t0
        finally:
            await conn.close()
        ceiling = await _copy_ceiling(db.dsn)
        child = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, __file__, "--child", db.url],
            capture_output=True,
            text=True,
            check=False,
        )
        if child.returncode != 0:
            raise RuntimeError(f"the export process failed: {child.stderr[-2000:]}")
        exported = json.loads(child.stdout.strip().splitlines()[-1])
    return {
        "n": n,
        "seed_seconds": round(seeded, 1),
        **exported,
        "copy_seconds": ceiling["seconds"],
        "copy_bytes": ceiling["bytes"],
    }


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=10_000, help="customers to seed")
    p.add_argument("--pg", default="postgresql+asyncpg://postgres@127.0.0.1:55432", help="server URL, no database")
    p.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        print(json.dumps(asyncio.run(_export_in_this_process(args.child))))
    else:
        print(json.dumps(asyncio.run(export_job(args.pg, args.n))))
