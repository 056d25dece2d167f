"""Row 19 of `make bench`: a bulk ownership transfer of N open deals (issue 24 part 4).

N deals (``BENCH_TRANSFER``, default 100k) of one leaving rep are seeded by SQL (copies of one deal
made through the API, so every column the schema has is filled as the service fills it), the sales
service is asked for the transfer (``POST /v1/ownership/transfers``, straight to the service, as a
manager) and the job is run as the service's ``sales-ownership`` scheduled job runs it
(``tessera_shared.ownership.run_transfers`` on the sales database: the bench stack runs with its
scheduled jobs off, as every row does). The figure is the job's wall time, each record moved with
its deal.updated written to the outbox in batches of 1,000; the ceiling is the same UPDATE run by
the database alone (moving them back, no events). The issue's target: < 60 s for 100k. The deals
are deleted again afterwards.
"""

from __future__ import annotations

import os
import time
from typing import Any

import asyncpg
import httpx

LEAVER, HEIR = "bench-leaver", "bench-heir"
# Columns a copy does not take from the template deal.
OVERRIDES = {
    "id": "md5('bench-transfer-' || i)::uuid",
    "title": "'Bench transfer ' || i",
    "owner_id": f"'{LEAVER}'",
    "external_id": "NULL",
    "created_by": "'bench-transfer'",
}
CEILING = (
    "UPDATE deals SET owner_id = $2, version = version + 1, updated_at = now()"
    " WHERE owner_id = $1 AND closed_at IS NULL"
)


async def _seed(conn: asyncpg.Connection, template: str, n: int) -> None:
    columns = [
        r["column_name"]
        for r in await conn.fetch(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'deals' ORDER BY ordinal_position"
        )
    ]
    values = [OVERRIDES.get(c, f't."{c}"') for c in columns]
    names = ", ".join(f'"{c}"' for c in columns)
    await conn.execute(
        f"INSERT INTO deals ({names}) SELECT {', '.join(values)} FROM deals AS t, generate_series(1, $2::int) AS i"  # noqa: S608 - column names from the catalogue
        " WHERE t.id = $1::uuid",
        template,
        n,
    )


async def transfer_deals(bench: Any) -> None:
    from harness import log, size_label, token

    from tessera_sales.transfers import TRANSFERS
    from tessera_shared.db import create_engine, session_factory
    from tessera_shared.ownership.service import run_transfers

    n = int(os.environ.get("BENCH_TRANSFER", "100000"))
    base = bench.stack.url("sales")
    manager = {"Authorization": f"Bearer {token(('sales_manager',), 'bench-manager')}"}
    conn = await asyncpg.connect(bench.dsn("sales"))
    try:
        async with httpx.AsyncClient(timeout=120) as client:
            r = await client.post(
                f"{bench.stack.url('customer')}/v1/customers",
                json={"kind": "organization", "name": "Bench transfer customer"},
                headers=manager,
            )
            r.raise_for_status()
            r = await client.post(
                f"{base}/v1/deals",
                json={
                    "customer_id": r.json()["id"],
                    "title": "Bench transfer template",
                    "amount": "100.00",
                    "currency": "EUR",
                    "owner_id": "bench-template",
                },
                headers=manager,
            )
            r.raise_for_status()
            t0 = time.perf_counter()
            await _seed(conn, r.json()["id"], n)
            await conn.execute("ANALYZE deals")
            await conn.execute("CHECKPOINT")
            log(f"row 19: seeded {size_label(n)} deals in {time.perf_counter() - t0:.1f}s")

            t0 = time.perf_counter()
            r = await client.post(
                f"{base}/v1/ownership/transfers",
                json={"from_user": LEAVER, "to_user": HEIR, "resources": ["deals"]},
                headers=manager,
            )
            r.raise_for_status()
            job_url = f"{base}/v1/ownership/transfers/{r.json()['id']}"
            engine = create_engine(bench.dsn("sales").replace("postgresql://", "postgresql+asyncpg://", 1))
            try:
                t0 = time.perf_counter()
                await run_transfers(session_factory(engine), TRANSFERS)
                wall = time.perf_counter() - t0
            finally:
                await engine.dispose()
            job = (await client.get(job_url, headers=manager)).json()
            if job["status"] != "succeeded" or job["counts"].get("deals") != n:
                raise RuntimeError(f"the transfer did not move every deal: {job}")
            outbox = await conn.fetchval(
                "SELECT count(*) FROM outbox_events WHERE event_type = 'deal.updated' AND envelope LIKE $1",
                f"%{HEIR}%",
            )
            t0 = time.perf_counter()
            moved_back = await conn.execute(CEILING, HEIR, LEAVER)
            ceiling = time.perf_counter() - t0
            bench.report.add(
                f"19 ownership transfer of {size_label(n)} deals (with events)",
                wall,
                "s",
                "the same UPDATE alone",
                ceiling,
                lower_is_better=True,
                target_s=60,
                events_written=outbox,
                records_per_s=round(n / wall),
                ceiling_rows=moved_back,
            )
    finally:
        await conn.execute("DELETE FROM deals WHERE created_by = 'bench-transfer' OR owner_id = 'bench-template'")
        await conn.close()
