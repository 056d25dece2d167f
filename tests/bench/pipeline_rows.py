"""Row 18 of `make bench`: a pipeline's forecast (``GET /v1/reports/forecast?pipeline_id=``) over N deals.

At each size (``--sizes``/``BENCH_SIZES``, e.g. 10k,100k,1M) deals are seeded by SQL into a pipeline
made through the API (nine in ten of them in it, the rest in the default pipeline; five in six open,
24 close months, 50 owners, 3 currencies), then the forecast is called one request at a time,
straight to the sales service, as a manager (every owner). Its p50/p99 are reported beside the
p99 of the same aggregate SQL run by the database alone (one prepared statement: the ceiling).
The issue's target: < 2 s at 1M deals. The deals are deleted again afterwards.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

import asyncpg
import httpx

STAGES = [
    {"key": "discovery", "name": "Discovery", "probability": 10},
    {"key": "demo", "name": "Demo", "probability": 30},
    {"key": "trial", "name": "Trial", "probability": 50},
    {"key": "contract", "name": "Contract", "probability": 80},
    {"key": "signed", "name": "Signed", "kind": "won", "probability": 100},
    {"key": "dropped", "name": "Dropped", "kind": "lost", "probability": 0},
]
# Deal i: in the bench pipeline unless i % 10 = 0; one in six closed (won or lost), the others in
# one of the four open stages; close month one of 24; owner one of 50; currency one of 3.
SEED_DEALS = """
INSERT INTO deals (id, customer_id, title, amount, amount_minor, currency, pipeline_id, stage, stage_kind,
                   probability, probability_overridden, owner_id, expected_close_date, close_month, furthest_rank,
                   large_flagged, created_by, created_at, updated_at, version)
SELECT md5('bench-deal-' || i)::uuid, md5('bench-customer-' || (i % 5000))::uuid, 'Bench deal ' || i,
       (100 + i % 9900)::numeric, (100 + i % 9900) * 100, c.currency,
       CASE WHEN i % 10 = 0 THEN $3::uuid ELSE $4::uuid END,
       s.stage, s.kind, s.probability, false, 'rep' || (i % 50),
       d.close_date, to_char(d.close_date, 'YYYY-MM'), s.rank, false, 'bench-seed', now(), now(), 1
FROM generate_series($1::int, $2::int) AS i,
     LATERAL (SELECT (ARRAY['EUR','USD','GBP'])[(i % 3) + 1] AS currency) AS c,
     LATERAL (SELECT date '2027-01-01' + ((i % 24) * 30) AS close_date) AS d,
     LATERAL (SELECT CASE WHEN i % 10 = 0
                          THEN (ARRAY['prospecting','qualification','proposal','negotiation','won','lost'])[(i % 6) + 1]
                          ELSE (ARRAY['discovery','demo','trial','contract','signed','dropped'])[(i % 6) + 1]
                     END AS stage,
                     (ARRAY['open','open','open','open','won','lost'])[(i % 6) + 1] AS kind,
                     (ARRAY[10, 30, 50, 80, 100, 0])[(i % 6) + 1] AS probability,
                     (ARRAY[1, 2, 3, 4, 5, 0])[(i % 6) + 1] AS rank) AS s
"""
# What the service runs for the forecast of one pipeline, every owner (reports/service.forecast_lines).
SQL = (
    "SELECT close_month, owner_id, currency, count(*), sum(amount_minor), sum(amount_minor * probability)"
    " FROM deals WHERE pipeline_id = $1 AND stage_kind = 'open'"
    " GROUP BY close_month, owner_id, currency ORDER BY close_month, owner_id, currency"
)
DEFAULT_PIPELINE_ID = "5a1e5000-0000-4000-8000-000000000001"


def _p(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    k = (len(ordered) - 1) * q / 100
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


async def _api(client: httpx.AsyncClient, url: str, headers: dict[str, str], runs: int) -> list[float]:
    for _ in range(2):  # warm-up (statement cache, plans)
        (await client.get(url, headers=headers)).raise_for_status()
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        r = await client.get(url, headers=headers)
        samples.append((time.perf_counter() - t0) * 1000)
        r.raise_for_status()
    return samples


async def _sql(conn: asyncpg.Connection, pipeline_id: str, runs: int) -> list[float]:
    stmt = await conn.prepare(SQL)
    for _ in range(2):
        await stmt.fetch(pipeline_id)
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        await stmt.fetch(pipeline_id)
        samples.append((time.perf_counter() - t0) * 1000)
    return samples


async def pipeline_forecast(bench: Any, runs: int = 20) -> None:
    from harness import log, size_label, token

    sizes = bench.args.sizes
    base = bench.stack.url("sales")
    manager = {"Authorization": f"Bearer {token(('sales_manager',), 'bench-manager')}"}
    conn = await asyncpg.connect(bench.dsn("sales"))
    try:
        async with httpx.AsyncClient(timeout=120) as client:
            r = await client.post(
                f"{base}/v1/pipelines",
                json={"key": f"bench-{bench.tag}", "name": "Bench pipeline", "stages": STAGES},
                headers=manager,
            )
            r.raise_for_status()
            pipeline_id = r.json()["id"]
            url = f"{base}/v1/reports/forecast?pipeline_id={pipeline_id}"
            have = 0
            for n in sizes:
                t0 = time.perf_counter()
                await conn.execute(SEED_DEALS, have + 1, n, DEFAULT_PIPELINE_ID, pipeline_id)
                await conn.execute("ANALYZE deals")
                await conn.execute("CHECKPOINT")
                have = n
                log(f"row 18: seeded {size_label(n)} deals in {time.perf_counter() - t0:.1f}s")
                api = await _api(client, url, manager, runs)
                db = await _sql(conn, pipeline_id, runs)
                body = (await client.get(url, headers=manager)).json()
                bench.report.add(
                    f"18 pipeline forecast, p99 @ {size_label(n)} deals",
                    _p(api, 99),
                    "ms",
                    "the same SQL alone (p99)",
                    _p(db, 99),
                    lower_is_better=True,
                    target_p99_ms=2000,
                    p50_ms=round(statistics.median(api), 2),
                    sql_p50_ms=round(statistics.median(db), 2),
                    runs=runs,
                    rows=len(body["rows"]),
                    deals=sum(t["deals"] for t in body["totals"]),
                )
    finally:
        await conn.execute("DELETE FROM deals WHERE created_by = 'bench-seed'")  # the seeded ones only
        await conn.close()
