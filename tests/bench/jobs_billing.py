"""Billing at scale, in-process against a scratch PostgreSQL database: the overdue job over n open
invoices, and the ageing report over n ledger rows (the service's own functions, and the
database alone).

Usage (from the repo root):
    .venv/bin/python tests/bench/jobs_billing.py --n 1000000              # overdue job, both scenarios
    .venv/bin/python tests/bench/jobs_billing.py --n 1000000 --ageing     # ageing report
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import AGING_SQL, SEED_LEDGER
from scratch import scratch_database

# n open invoices as of $3. Newly overdue (i % 10 = 0): issued, due 1-40 days before $3 (the job
# missed some days). Already marked (i % 10 in 1..4): overdue since their due date, at the dunning
# step reached the day before (a daily job), so the ones crossing a threshold today get a step;
# one in a hundred of them disputed. The rest: issued and not yet due.
SEED_INVOICES = """
INSERT INTO invoices (id, number, customer_id, customer_name, status, currency, issue_date, due_date,
                      payment_terms_days, subtotal, tax_total, total, amount_paid, amount_written_off,
                      balance_due, overdue_since, dunning_step, created_by, issued_at, created_at,
                      updated_at, version)
SELECT md5('bench-invoice-' || i)::uuid, 'INV-2026-' || lpad(i::text, 7, '0'),
       md5('bench-customer-' || (i / 10))::uuid, 'Customer ' || (i / 10),
       CASE WHEN kind = 'marked' THEN 'overdue' ELSE 'issued' END,
       CASE WHEN i % 7 = 0 THEN 'USD' ELSE 'EUR' END, due - 30, due, 30,
       100 + i % 900, 0, 100 + i % 900, 0, 0, 100 + i % 900,
       CASE WHEN kind = 'marked' THEN due + 1 END,
       CASE WHEN kind = 'marked' THEN (SELECT count(*) FROM unnest($4::int[]) AS t WHERE t <= $3::date - due - 1)
            ELSE 0 END,
       'bench', now(), now(), now(), 1
FROM generate_series($1::int, $2::int) AS i,
     LATERAL (SELECT CASE WHEN $5::bool OR i % 10 = 0 THEN 'newly' WHEN i % 10 <= 4 THEN 'marked'
                          ELSE 'current' END AS kind) AS k,
     LATERAL (SELECT CASE k.kind WHEN 'newly' THEN $3::date - 1 - i % 40
                                 WHEN 'marked' THEN $3::date - 2 - i % 60
                                 ELSE $3::date + i % 30 END AS due) AS d
"""
SEED_DISPUTES = """
INSERT INTO invoice_disputes (ticket_id, invoice_id, customer_id, opened_at)
SELECT md5('bench-ticket-' || id)::uuid, id, customer_id, now() FROM invoices
WHERE status = 'overdue' AND ('x' || substr(id::text, 1, 2))::bit(8)::int < 3
"""


async def _sql(dsn: str, *statements: tuple[str, tuple[Any, ...]]) -> list[Any]:
    conn = await asyncpg.connect(dsn)
    try:
        return [await conn.fetchval(sql, *args) for sql, args in statements]
    finally:
        await conn.close()


async def overdue_job(
    pg_url: str, n: int, *, worst_case: bool = False, as_of: date = date(2026, 6, 1), db_name: str | None = None
) -> dict[str, Any]:
    """Seed n open issued invoices, run the job the scheduler runs (``run_overdue`` with the
    service's session factory) as of ``as_of``, and report its time and effects. ``worst_case``:
    every invoice is newly overdue."""
    from tessera_billing.dunning.service import run_overdue
    from tessera_billing.settings import BillingSettings
    from tessera_shared.db import create_engine, session_factory

    async with scratch_database(pg_url, "billing", db_name) as db:
        schedule = [1, 7, 15, 30]
        t0 = time.perf_counter()
        await _sql(
            db.dsn, (SEED_INVOICES, (1, n, as_of, schedule, worst_case)), (SEED_DISPUTES, ()), ("VACUUM ANALYZE", ())
        )
        seeded = time.perf_counter() - t0
        settings = BillingSettings(
            database_url=db.url, kafka_enabled=False, jobs_enabled=False, log_json=False, dunning_schedule_days=schedule
        )
        engine = create_engine(db.url)
        try:
            t0 = time.perf_counter()
            run = await run_overdue(session_factory(engine), as_of, settings)
            seconds = time.perf_counter() - t0
            again = await run_overdue(session_factory(engine), as_of, settings)
        finally:
            await engine.dispose()
        overdue_events, steps, marked = await _sql(
            db.dsn,
            ("SELECT count(*) FROM outbox_events WHERE event_type = 'invoice.overdue'", ()),
            ("SELECT count(*) FROM outbox_events WHERE event_type = 'dunning.step'", ()),
            ("SELECT count(*) FROM invoices WHERE overdue_since = $1", (as_of,)),
        )
    return {
        "n": n,
        "scenario": "all newly overdue" if worst_case else "10% newly overdue",
        "seed_seconds": round(seeded, 1),
        "seconds": round(seconds, 2),
        "marked_overdue": run.marked_overdue,
        "dunning_steps": run.dunning_steps,
        "invoice_overdue_outbox_rows": overdue_events,
        "dunning_step_outbox_rows": steps,
        "rows_marked_in_db": marked,
        "invoices_per_s": round(n / seconds),
        "second_run": {"marked_overdue": again.marked_overdue, "dunning_steps": again.dunning_steps},
    }


async def ageing(pg_url: str, n: int, *, runs: int = 15, db_name: str | None = None) -> dict[str, Any]:
    """Seed n ledger rows (and the read model) as the harness does, then time the service's
    ageing queries in-process for today and for a day 90 days back, and the harness's
    database-alone query; medians of ``runs``."""
    from tessera_billing.reports import repository as repo
    from tessera_shared.db import create_engine, read_session, session_factory

    async with scratch_database(pg_url, "billing", db_name) as db:
        await _sql(db.dsn, (SEED_LEDGER, (1, n)), ("VACUUM ANALYZE", ()))
        engine = create_engine(db.url)
        out: dict[str, Any] = {"n": n}
        try:
            sessions = session_factory(engine)
            today = date.today()
            for label, as_of in (("today", today), ("90 days back", today - timedelta(days=90))):
                times = []
                for _ in range(runs + 2):
                    async with read_session(sessions) as session:
                        t0 = time.perf_counter()
                        await repo.aging_totals(session, as_of, None, None)
                        await repo.aging_by_customer(session, as_of, None, None, 51, None)
                        times.append((time.perf_counter() - t0) * 1000)
                out[f"service ms, as of {label}"] = round(statistics.median(times[2:]), 2)
            conn = await asyncpg.connect(db.dsn)
            try:
                times = []
                for _ in range(runs + 2):
                    t0 = time.perf_counter()
                    await conn.fetch(AGING_SQL)
                    times.append((time.perf_counter() - t0) * 1000)
                out["database alone ms (AGING_SQL)"] = round(statistics.median(times[2:]), 2)
                out["ledger rows"] = await conn.fetchval("SELECT count(*) FROM ledger_entries")
            finally:
                await conn.close()
        finally:
            await engine.dispose()
    return out


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=100_000, help="invoices (overdue job) or ledger rows (--ageing)")
    p.add_argument("--pg", default="postgresql+asyncpg://postgres@127.0.0.1:55432", help="server URL, no database")
    p.add_argument("--ageing", action="store_true", help="the ageing report instead of the overdue job")
    p.add_argument("--no-worst-case", action="store_true", help="skip the all-newly-overdue scenario")
    args = p.parse_args()
    if args.ageing:
        print(asyncio.run(ageing(args.pg, args.n)))
    else:
        print(asyncio.run(overdue_job(args.pg, args.n)))
        if not args.no_worst_case:
            print(asyncio.run(overdue_job(args.pg, args.n, worst_case=True)))
