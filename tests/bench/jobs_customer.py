"""The customer value job (RFM, tiers, frequency class, LTV) over n seeded customers, in-process.

Usage (from the repo root): .venv/bin/python tests/bench/jobs_customer.py --n 1000000
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time
from pathlib import Path
from typing import Any

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import SEED_CUSTOMERS
from scratch import scratch_database

# Purchases: customer i has i % 7 of them (0..6, ~3 on average) spread over two years; the
# deal-sized amounts vary with i so that the RFM quintiles and Pareto tiers are not all ties.
SEED_PURCHASES = """
INSERT INTO purchases (id, customer_id, key, source, amount, currency, occurred_at)
SELECT md5('bench-purchase-' || i || '-' || k)::uuid, md5('bench-customer-' || i)::uuid,
       'deal:bench-' || i || '-' || k, 'deal', 20 + (i * 37 + k * 11) % 2000, 'EUR',
       now() - ((i * 13 + k * 97) % 730) * interval '1 day'
FROM generate_series($1::int, $2::int) AS i, generate_series(1, i % 7) AS k
"""
# Payments: one per purchase, every tenth in USD (converted with FX_RATES).
SEED_PAYMENTS = """
INSERT INTO payment_facts (payment_id, customer_id, amount, currency, received_at)
SELECT md5('bench-payment-' || i || '-' || k)::uuid, md5('bench-customer-' || i)::uuid,
       20 + (i * 37 + k * 11) % 2000, CASE WHEN (i + k) % 10 = 0 THEN 'USD' ELSE 'EUR' END,
       now() - ((i * 13 + k * 97) % 730) * interval '1 day' + interval '3 days'
FROM generate_series($1::int, $2::int) AS i, generate_series(1, i % 7) AS k
"""
# Service signals for one customer in ten (open tickets, a low CSAT, overdue invoices).
SEED_SIGNALS = """
INSERT INTO customer_signals (customer_id, open_tickets, escalated_tickets, overdue_invoices, sla_breaches,
                              last_csat, lost_deals, lost_reasons, updated_at)
SELECT md5('bench-customer-' || i)::uuid,
       CASE WHEN i % 3 = 0 THEN '["t1"]'::jsonb ELSE '[]'::jsonb END, '[]'::jsonb,
       CASE WHEN i % 4 = 0 THEN '["i1","i2"]'::jsonb ELSE '[]'::jsonb END, i % 3, 1 + i % 5, 0, '{}'::jsonb, now()
FROM generate_series($1::int, $2::int) AS i WHERE i % 10 = 0
"""


def _load() -> float:
    return float(Path("/proc/loadavg").read_text().split()[0]) if Path("/proc/loadavg").exists() else -1.0


async def value_job(pg_url: str, n: int) -> dict[str, Any]:
    """Seed n customers with purchase and payment facts in a scratch database, run the value
    job the scheduler runs, and report its time and effects; the database is dropped after."""
    from tessera_customer.settings import CustomerSettings
    from tessera_customer.value.service import recompute_values
    from tessera_shared.db import create_engine, session_factory, utcnow

    async with scratch_database(pg_url, "customer") as db:
        conn = await asyncpg.connect(db.dsn)
        try:
            t0 = time.perf_counter()
            for sql in (SEED_CUSTOMERS, SEED_PURCHASES, SEED_PAYMENTS, SEED_SIGNALS):
                await conn.execute(sql, 1, n)
            await conn.execute("VACUUM ANALYZE")
            seeded = time.perf_counter() - t0
            purchases = await conn.fetchval("SELECT count(*) FROM purchases")
        finally:
            await conn.close()
        settings = CustomerSettings(
            database_url=db.url, kafka_enabled=False, jobs_enabled=False, log_json=False, fx_rates={"USD": "0.92"}
        )
        engine = create_engine(db.url)
        try:
            sessions = session_factory(engine)
            runs, loads = [], []
            for _ in range(2):  # the first run moves most tiers; the second is the steady state
                before = _load()
                t0 = time.perf_counter()
                result = await recompute_values(sessions, settings, utcnow())
                runs.append((time.perf_counter() - t0, result))
                loads.append((before, _load()))
        finally:
            await engine.dispose()
        conn = await asyncpg.connect(db.dsn)
        try:
            outbox = await conn.fetchval(
                "SELECT count(*) FROM outbox_events WHERE event_type = 'customer.tier_changed'"
            )
        finally:
            await conn.close()
    (first_s, first), (second_s, second) = runs
    return {
        "n": n,
        "purchases": purchases,
        "seed_seconds": round(seeded, 1),
        "seconds": round(first_s, 2),
        "customers_updated": first["customers"],
        "tier_changes": first["tier_changes"],
        "tier_changed_outbox_rows": outbox,
        "rows_per_s": round(first["customers"] / first_s),
        "second_run_seconds": round(second_s, 2),
        "second_run_tier_changes": second["tier_changes"],
        # The machine is shared: read the seconds with the 1-minute load before and after each run.
        "load_average_1m_before_after_each_run": loads,
    }


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=100_000, help="customers to seed")
    p.add_argument("--pg", default="postgresql+asyncpg://postgres@127.0.0.1:55432", help="server URL, no database")
    args = p.parse_args()
    logging.basicConfig(format="%(message)s")
    logging.getLogger("tessera_customer.value.setbased").setLevel(logging.INFO)  # its phase timings
    print(asyncio.run(value_job(args.pg, args.n)))
