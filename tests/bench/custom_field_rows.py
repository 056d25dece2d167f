"""Row 20 of `make bench`: a list filtered on a custom field over N records (issue 24 part 2).

At each size (``--sizes``/``BENCH_SIZES``, e.g. 10k,100k,1M) the records are seeded by SQL, each
with an enum custom field ``bench_segment`` (one of 50 values: a filter keeps one record in 50)
defined through the API first, so that the service builds its index as it does for any field. The
list ``GET /v1/<records>?custom_fields.bench_segment=s7`` (first page, 50 rows) is then called one
request at a time, straight to the owning service, as an admin (every owner), and its p50/p99 are
reported beside the p99 of the same SQL run by the database alone (one prepared statement: the
ceiling). The issue's target: p99 < 50 ms, flat from 10k to 1M. The records are deleted afterwards.

The entity is a parameter: ``deal`` (sales) runs today; ``customer`` (the customer service) runs
once customers take custom fields (its seed is harness.SEED_CUSTOMERS plus the field's values).
"""

from __future__ import annotations

import re
import statistics
import time
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx

KEY = "bench_segment"
SEEDED_BY = "bench-custom-fields"
VALUE = "s7"
OPTIONS = [{"value": f"s{i}", "label": f"Segment {i}"} for i in range(50)]


@dataclass(frozen=True)
class Entity:
    name: str  # the custom field's entity
    service: str
    table: str
    path: str
    cleanup: str

    def sql(self) -> str:
        """What the list runs for the first page (the ceiling's statement)."""
        return f"SELECT * FROM {self.table} WHERE (custom_fields ->> '{KEY}') = $1 ORDER BY id LIMIT 51"  # noqa: S608


ENTITIES = {
    "deal": Entity(
        "deal",
        "sales",
        "deals",
        "/v1/deals",
        f"DELETE FROM deals WHERE created_by = '{SEEDED_BY}'",  # noqa: S608 - constants
    ),
    "customer": Entity("customer", "customer", "customers", "/v1/customers", "TRUNCATE customers CASCADE"),
}


async def _seed(conn: asyncpg.Connection, entity: Entity, first: int, last: int) -> None:
    if entity.name == "deal":
        from pipeline_rows import DEFAULT_PIPELINE_ID, SEED_DEALS

        seed = SEED_DEALS.replace("created_at, updated_at, version)", "created_at, updated_at, version, custom_fields)")
        seed, found = re.subn(
            r"'bench[a-z-]*', now\(\), now\(\), 1\n",
            f"'{SEEDED_BY}', now(), now(), 1, jsonb_build_object('{KEY}', 's' || (i % 50))\n",
            seed,
        )
        if found != 1:
            raise RuntimeError("row 20: pipeline_rows.SEED_DEALS changed shape; adapt the seed here")
        await conn.execute(seed, first, last, DEFAULT_PIPELINE_ID, DEFAULT_PIPELINE_ID)
        return
    from harness import SEED_CUSTOMERS

    await conn.execute(SEED_CUSTOMERS, first, last)
    await conn.execute(
        f"UPDATE customers SET custom_fields = jsonb_build_object('{KEY}', 's' || (hashtext(id::text) & 63) % 50)"  # noqa: S608
        " WHERE custom_fields = '{}'::jsonb"
    )


def _p(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    k = (len(ordered) - 1) * q / 100
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


async def _api(client: httpx.AsyncClient, url: str, headers: dict[str, str], runs: int) -> list[float]:
    for _ in range(5):  # warm-up (statement cache, plans, the definitions' cache)
        (await client.get(url, headers=headers)).raise_for_status()
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        r = await client.get(url, headers=headers)
        samples.append((time.perf_counter() - t0) * 1000)
        r.raise_for_status()
    return samples


async def _sql(conn: asyncpg.Connection, entity: Entity, runs: int) -> list[float]:
    stmt = await conn.prepare(entity.sql())
    for _ in range(5):
        await stmt.fetch(VALUE)
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        await stmt.fetch(VALUE)
        samples.append((time.perf_counter() - t0) * 1000)
    return samples


async def custom_field_filter(bench: Any, entity_name: str = "deal", runs: int = 300) -> None:
    from harness import log, size_label

    entity = ENTITIES[entity_name]
    sizes = bench.args.sizes
    if sizes[-1] < 10_000:
        runs = 20  # the harness's own smoke test (tiny sizes)
    base = bench.stack.url(entity.service)
    conn = await asyncpg.connect(bench.dsn(entity.service))
    url = f"{base}{entity.path}?custom_fields.{KEY}={VALUE}&limit=50"
    p99s: dict[int, float] = {}
    row = f"20 list {entity.table} by a custom field"
    try:
        async with httpx.AsyncClient(timeout=120) as client:
            r = await client.post(
                f"{base}/v1/custom-fields",
                json={"entity": entity.name, "key": KEY, "label": "Bench segment", "type": "enum", "options": OPTIONS},
                headers=bench.auth,
            )
            if r.status_code != 409:  # defined by an earlier run against this database
                r.raise_for_status()
            index = await conn.fetchval(
                "SELECT indexdef FROM pg_indexes WHERE indexname = $1", f"ix_cf_{entity.table}_{KEY}"
            )
            log(f"row 20: {entity.name}.{KEY} defined; index: {index}")
            have = 0
            for n in sizes:
                t0 = time.perf_counter()
                await _seed(conn, entity, have + 1, n)
                await conn.execute(f"ANALYZE {entity.table}")
                await conn.execute("CHECKPOINT")
                have = n
                log(f"row 20: seeded {size_label(n)} {entity.table} in {time.perf_counter() - t0:.1f}s")
                api = await _api(client, url, bench.auth, runs)
                db = await _sql(conn, entity, runs)
                # The same list without the filter: what the endpoint costs whatever it filters on.
                plain = await _api(client, f"{base}{entity.path}?limit=50", bench.auth, runs)
                p99s[n] = _p(api, 99)
                page = (await client.get(url, headers=bench.auth)).json()
                plan = "\n".join(r[0] for r in await conn.fetch(f"EXPLAIN {entity.sql().replace('$1', repr(VALUE))}"))
                bench.report.add(
                    f"{row}, p99 @ {size_label(n)}",
                    p99s[n],
                    "ms",
                    "the same SQL alone (p99)",
                    _p(db, 99),
                    lower_is_better=True,
                    target_p99_ms=50,
                    p50_ms=round(statistics.median(api), 2),
                    sql_p50_ms=round(statistics.median(db), 2),
                    unfiltered_list_p50_ms=round(statistics.median(plain), 2),
                    unfiltered_list_p99_ms=round(_p(plain, 99), 2),
                    runs=runs,
                    page_rows=len(page["items"]),
                    uses_index=f"ix_cf_{entity.table}_{KEY}" in plan,
                )
        first, last = sizes[0], sizes[-1]
        bench.report.add(
            f"{row}, p99 growth {size_label(first)}->{size_label(last)}",
            p99s[last] / p99s[first],
            "x",
            "target",
            1.5,
            lower_is_better=True,
        )
    finally:
        await conn.execute(entity.cleanup)
        await conn.close()
