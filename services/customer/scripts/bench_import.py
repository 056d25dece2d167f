"""Quick measurement (not a test): bulk-import rate on PostgreSQL, and the plans of the paths
made index-friendly. Usage (from the repo root):

    .venv/bin/python services/customer/scripts/bench_import.py postgresql+asyncpg://postgres@127.0.0.1:55432 20000
"""

from __future__ import annotations

import asyncio
import sys
import time
import uuid

import asyncpg
from sqlalchemy import text

import tessera_customer.main as customer_main
from tessera_customer.settings import CustomerSettings
from tessera_shared.testing.plugin import bearer, running

CITIES = ("Berlin", "Hamburg", "Munich", "Cologne", "Leipzig")


def csv_file(rows: int, tag: str) -> str:
    head = "external_id,kind,name,email,phone,tags,country,city,age_band,attr.source\n"
    body = "".join(
        f"{tag}-{i},person,Customer {i} {tag},c{i}.{tag}@example.com,+49 30 {i:07d},t{i % 7};news,DE,"
        f"{CITIES[i % 5]},{20 + i % 5 * 10}-{29 + i % 5 * 10},bench\n"
        for i in range(rows)
    )
    return head + body


async def main(server: str, rows: int) -> None:
    name = f"bench_customer_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(server.replace("+asyncpg", "") + "/postgres")
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        settings = CustomerSettings(
            database_url=f"{server}/{name}",
            kafka_enabled=False,
            jobs_enabled=False,
            log_json=False,
            log_level="WARNING",
        )
        app = customer_main.create_app(settings)
        async with running(app) as client:
            headers = {**bearer(app, "bench", "sales_manager"), "content-type": "text/csv"}
            body = csv_file(rows, uuid.uuid4().hex[:6]).encode()
            started = time.perf_counter()
            r = await client.post("/v1/customers/import", content=body, headers=headers, timeout=600)
            elapsed = time.perf_counter() - started
            report = r.json()
            print(
                f"import: {report['created']} created in {elapsed:.2f}s"
                f" = {report['created'] / elapsed:,.0f} customers/s"
                f" ({len(body) / 1e6:.1f} MB, failed {report['failed']})"
            )
            started = time.perf_counter()
            again = (await client.post("/v1/customers/import", content=body, headers=headers, timeout=600)).json()
            print(
                f"re-import: {again['existing']} existing, {again['created']} created in "
                f"{time.perf_counter() - started:.2f}s"
            )
            async with app.state.runtime.sessions() as s:
                for label, sql in (
                    ("name prefix", "SELECT id FROM customers WHERE name_key LIKE 'customer 123%'"),
                    (
                        "duplicates by email",
                        "SELECT a.id, b.id FROM customers a JOIN customers b "
                        "ON a.email = b.email AND a.id < b.id WHERE a.email = 'c1@example.com'",
                    ),
                ):
                    plan = (await s.execute(text("EXPLAIN " + sql))).scalars().all()
                    print(f"{label}: {' | '.join(p.strip() for p in plan[:3])}")
            started = time.perf_counter()
            r = await client.get(
                "/v1/customers/duplicates", params={"limit": 50}, headers=bearer(app, "bench", "sales_manager")
            )
            print(f"duplicates page: {r.status_code} in {(time.perf_counter() - started) * 1000:.0f} ms")
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1].rstrip("/"), int(sys.argv[2]) if len(sys.argv) > 2 else 20000))
