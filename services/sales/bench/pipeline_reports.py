"""Forecast, funnel and deep list pages over N deals on PostgreSQL (default 1M).

Usage: python services/sales/bench/pipeline_reports.py [postgres_server_url] [deals]
Creates a scratch database, fills it with generate_series (deals, 1-3 stage rows each),
times the endpoints through the app in process, prints JSON, and drops the database.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import time
import uuid

import asyncpg
import httpx

import tessera_sales.main as sales_main
from tessera_sales.testing import sales_settings
from tessera_shared.testing.plugin import bearer

STAGES = "(ARRAY['prospecting','qualification','proposal','negotiation','won','lost'])"
FILL = f"""
INSERT INTO deals (id, customer_id, title, amount, amount_minor, currency, stage, probability, probability_overridden,
                   owner_id, expected_close_date, close_month, large_flagged, created_by, created_at, updated_at,
                   version, closed_at, cycle_seconds, furthest_rank)
SELECT md5(i::text)::uuid, md5('c' || (i % 50000))::uuid, 'Deal ' || i, (i % 10000) + 100, ((i % 10000) + 100) * 100,
       'EUR', {STAGES}[(i % 6) + 1], (ARRAY[10,20,50,80,100,0])[(i % 6) + 1], false, 'rep' || (i % 50),
       date '2026-01-01' + (i % 365), to_char(date '2026-01-01' + (i % 365), 'YYYY-MM'), false, 'bench',
       now() - (i % 365) * interval '1 day', now(), 1,
       CASE WHEN i % 6 >= 4 THEN now() END, CASE WHEN i % 6 >= 4 THEN (i % 365) * 86400 END, (i % 3) + 1
FROM generate_series(1, $1) AS i;
"""  # noqa: S608 - built from the constant STAGES only; the row count is a bind parameter
HISTORY = f"""
INSERT INTO deal_stage_changes (id, deal_id, from_stage, to_stage, to_rank, changed_by, entered_at, left_at,
                                duration_seconds)
SELECT gen_random_uuid(), md5(i::text)::uuid, NULL, {STAGES}[r], r, 'bench', now() - interval '10 days',
       now() - interval '5 days', 432000
FROM generate_series(1, $1) AS i, generate_series(1, (i % 3) + 1) AS r;
"""  # noqa: S608 - built from the constant STAGES only; the row count is a bind parameter


async def timed(client: httpx.AsyncClient, url: str, headers: dict[str, str], runs: int = 5) -> dict[str, float]:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        r = await client.get(url, headers=headers)
        samples.append(time.perf_counter() - start)
        assert r.status_code == 200, r.text
    return {"median_s": round(statistics.median(samples), 4), "max_s": round(max(samples), 4)}


async def main(server: str, n: int) -> None:
    name = f"bench_sales_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(server.replace("postgresql+asyncpg://", "postgresql://") + "/postgres")
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        app = sales_main.create_app(sales_settings(f"{server}/{name}"))
        async with app.router.lifespan_context(app):
            conn = await asyncpg.connect(server.replace("postgresql+asyncpg://", "postgresql://") + f"/{name}")
            start = time.perf_counter()
            await conn.execute(FILL, n)
            await conn.execute(HISTORY, n)
            await conn.execute("ANALYZE")
            fill_s = time.perf_counter() - start
            await conn.close()
            headers = bearer(app, "manager", "sales_manager")
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench") as client:
                report = {
                    "deals": n,
                    "fill_s": round(fill_s, 1),
                    "forecast": await timed(client, "/v1/reports/forecast", headers),
                    "funnel": await timed(client, "/v1/reports/funnel", headers),
                    "sales_performance": await timed(client, "/v1/reports/sales-performance", headers),
                    "list_first_page": await timed(client, "/v1/deals?limit=50", headers),
                }
                cursor = None
                for _ in range(200):  # walk 10k rows deep, then time that page
                    page = (
                        await client.get(f"/v1/deals?limit=50{f'&cursor={cursor}' if cursor else ''}", headers=headers)
                    ).json()
                    cursor = page["next_cursor"]
                report["list_page_10k_deep"] = await timed(client, f"/v1/deals?limit=50&cursor={cursor}", headers)
                report["rep_list_first_page"] = await timed(
                    client, "/v1/deals?limit=50", bearer(app, "rep7", "sales_rep")
                )
        print(json.dumps(report, indent=2))
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


if __name__ == "__main__":
    asyncio.run(
        main(
            sys.argv[1] if len(sys.argv) > 1 else "postgresql+asyncpg://postgres@127.0.0.1:55432",
            int(sys.argv[2]) if len(sys.argv) > 2 else 1_000_000,
        )
    )
