"""The sales service's POST /v1/deals/{id}/win in process: CPU per won deal, and where it goes.

    .venv/bin/python tests/bench/win_path.py --pg postgresql+asyncpg://postgres@127.0.0.1:55432 \
        [--wins 480] [--concurrency 16] [--idempotency] [--profile out.prof] [--statements]

The sales service's app (a scratch database of its own, migrated; Kafka and jobs off, every
customer known) wins ``--wins`` deals per pass through its ASGI interface in this process,
``--concurrency`` at a time, as row 6's loaded phase does (deals of 200 customers whose credit
profile billing has announced, 100.00 EUR each, a bearer token of a sales rep, body ``{}``).
What is measured is this process's CPU (``time.process_time``) per win, median of three passes
after a warm-up; the deals are made before each pass and are not counted. ``--idempotency``
sends an ``Idempotency-Key`` with each win; ``--statements`` counts the statements one win runs
(SQLAlchemy's ``before_cursor_execute``); ``--profile`` writes a cProfile (on the process CPU
clock) of one more pass. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from layers import call  # noqa: E402
from scratch import scratch_database  # noqa: E402


async def measure(
    pg: str, n: int, concurrency: int, idempotency: bool, profile: Path | None, statements: bool
) -> dict[str, Any]:
    from sqlalchemy import event

    import tessera_sales.main as sales_main
    from tessera_sales.testing import sales_settings
    from tessera_shared.db import unit_of_work
    from tessera_shared.events import build_event
    from tessera_shared.events.contracts import CreditExposureChanged
    from tessera_shared.testing.customers import StubCustomers

    async with scratch_database(pg, "sales") as db:
        app = sales_main.create_app(sales_settings(db.url, log_level="WARNING"))
        app.state.customer_directory = StubCustomers()
        async with app.router.lifespan_context(app):
            tok = app.state.token_codec.issue("bench", ["sales_rep"])
            handler = sales_main.spec().handlers["credit.exposure_changed"]
            customers = [uuid.uuid4() for _ in range(200)]
            for c in customers:
                data = CreditExposureChanged(
                    customer_id=c,
                    credit_limit=Decimal("1000000.00"),
                    currency="EUR",
                    rating="B",
                    exposure=Decimal(0),
                    open_balances=[],
                    reason="profile_created",
                    changed_at=datetime(2000, 1, 1, tzinfo=UTC),
                )
                async with unit_of_work(app.state.runtime.sessions) as s:
                    await handler(s, build_event(data, subject=c), data)
            made = iter(range(10**9))

            async def new_deals(count: int) -> list[str]:
                ids: list[str] = []

                async def worker() -> None:
                    while len(ids) < count:
                        i = next(made)
                        body = json.dumps(
                            {
                                "customer_id": str(customers[i % len(customers)]),
                                "title": "Bench licence",
                                "amount": "100.00",
                                "currency": "EUR",
                            }
                        ).encode()
                        status, raw = await call(app, "/v1/deals", tok, "POST", body)
                        assert status == 201, raw
                        ids.append(json.loads(raw)["id"])

                await asyncio.gather(*(worker() for _ in range(concurrency)))
                return ids[:count]

            async def one_pass(count: int, prof: cProfile.Profile | None = None) -> float:
                queue = iter(await new_deals(count))

                async def worker() -> None:
                    for deal_id in queue:
                        extra = [(b"idempotency-key", uuid.uuid4().hex.encode())] if idempotency else []
                        status, raw = await call(app, f"/v1/deals/{deal_id}/win", tok, "POST", b"{}", extra)
                        assert status == 200, raw

                if prof is not None:
                    prof.enable()
                start = time.process_time()
                await asyncio.gather(*(worker() for _ in range(concurrency)))
                spent = time.process_time() - start
                if prof is not None:
                    prof.disable()
                return spent / count * 1e3

            await one_pass(max(n // 5, 64))
            passes = [await one_pass(n) for _ in range(3)]
            out: dict[str, Any] = {
                "passes_ms": [round(p, 3) for p in passes],
                "ms_per_win": round(statistics.median(passes), 3),
            }
            if statements:
                seen: list[str] = []
                engine = app.state.runtime.engine.sync_engine

                def count_it(conn: Any, cursor: Any, stmt: str, *args: Any) -> None:
                    seen.append(stmt.split("\n")[0][:100])

                event.listen(engine, "before_cursor_execute", count_it)
                queue = await new_deals(1)
                seen.clear()
                status, raw = await call(app, f"/v1/deals/{queue[0]}/win", tok, "POST", b"{}")
                assert status == 200, raw
                event.remove(engine, "before_cursor_execute", count_it)
                out["statements_per_win"] = len(seen)
                out["statements"] = seen
            if profile is not None:
                prof = cProfile.Profile(time.process_time)
                await one_pass(n, prof)
                prof.dump_stats(str(profile))
            return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--pg", required=True, help="PostgreSQL server URL, postgresql+asyncpg://user@host:port")
    p.add_argument("--wins", type=int, default=480, help="wins per pass (three passes)")
    p.add_argument("--concurrency", type=int, default=16)
    p.add_argument("--idempotency", action="store_true", help="an Idempotency-Key with each win")
    p.add_argument("--statements", action="store_true", help="count one win's statements")
    p.add_argument("--profile", type=Path, help="write a cProfile of one more pass here")
    args = p.parse_args()
    with open("/proc/loadavg") as f:
        load_before = f.read().split()[0]
    result = asyncio.run(
        measure(args.pg.rstrip("/"), args.wins, args.concurrency, args.idempotency, args.profile, args.statements)
    )
    with open("/proc/loadavg") as f:
        result["load_average"] = [load_before, f.read().split()[0]]
    print(json.dumps(result))


if __name__ == "__main__":
    main()
