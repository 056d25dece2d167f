"""CPU per won deal in the customer's and the notifications' consumers, in process (issue 25, item 4).

The handlers alone against PostgreSQL (a scratch database migrated with the service's
migrations), fed as the consumer runner feeds them: a poll's records cut into runs where the
handler changes, a batched handler's run at most its ``limit`` records per transaction, a
handler called one event at a time otherwise; each transaction committed. CPU is this
process's ``time.process_time`` (PostgreSQL's backend is not counted), per won deal:

- customer: a win's three facts (deal.stage_changed, deal.won, invoice.issued), wins of
  ``--customers`` customers picked at random, ``--wins`` wins per poll;
- notifications: a win's five events (deal.stage_changed, deal.won, invoice.issued,
  credit.exposure_changed, customer.status_changed), the shipped routing rules.

Before/after: run the base commit's code with PYTHONPATH pointing at a worktree of it, e.g.

    PYTHONPATH=/tmp/base/services/customer/src:/tmp/base/services/notifications/src:/tmp/base/shared/src \
        .venv/bin/python tests/bench/won_consumers.py customer
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from scratch import scratch_database

from tessera_shared.consumer import Batched
from tessera_shared.db import create_engine, unit_of_work
from tessera_shared.events import CloudEvent, build_event
from tessera_shared.events.contracts import (
    CreditExposureChanged,
    CustomerStatusChanged,
    DealStageChanged,
    DealWon,
    InvoiceIssued,
)
from tessera_shared.trace_context import new_traceparent

PG = os.environ.get("TESSERA_TEST_PG", "postgresql+asyncpg://postgres@127.0.0.1:55432")


def win(customer_id: uuid.UUID, n: int, at: datetime, *, notifications: bool) -> list[CloudEvent]:
    deal_id = uuid.uuid4()
    amount = Decimal("1000.00")
    facts: list[Any] = [
        DealStageChanged(
            deal_id=deal_id,
            customer_id=customer_id,
            from_stage="negotiation",
            to_stage="won",
            probability=100,
            amount=amount,
            currency="EUR",
            changed_by="rep1",
            changed_at=at,
            owner_id="rep1",
        ),
        DealWon(
            deal_id=deal_id,
            customer_id=customer_id,
            title="Licences",
            amount=amount,
            currency="EUR",
            line_items=[],
            owner_id="rep1",
            won_at=at,
        ),
        InvoiceIssued(
            invoice_id=uuid.uuid4(),
            number=f"INV-{n:06d}",
            customer_id=customer_id,
            deal_id=deal_id,
            total=amount,
            currency="EUR",
            issue_date=at.date(),
            due_date=at.date() + timedelta(days=30),
            issued_at=at,
        ),
    ]
    if notifications:
        facts += [
            CreditExposureChanged(
                customer_id=customer_id,
                credit_limit=Decimal("100000.00"),
                currency="EUR",
                rating="B",
                exposure=amount,
                reason="invoice_issued",
                deal_id=deal_id,
                changed_at=at,
            ),
            CustomerStatusChanged(
                customer_id=customer_id,
                from_status="first_time",
                to_status="repeat",
                reason="deal_won",
                changed_at=at,
            ),
        ]
    return [build_event(d, subject=customer_id, traceparent=new_traceparent()) for d in facts]


def runs(handlers: dict[str, Any], events: list[CloudEvent]) -> list[tuple[Any, list[CloudEvent]]]:
    """The runner's cuts: consecutive events of one handler; a batched handler's at most ``limit``."""
    out: list[tuple[Any, list[CloudEvent]]] = []
    for event in events:
        handler = handlers.get(event.type)
        if handler is None:
            continue
        last = out[-1] if out else None
        limit = handler.limit if isinstance(handler, Batched) else 1
        if last is not None and last[0] is handler and isinstance(handler, Batched) and len(last[1]) < (limit or 10**9):
            last[1].append(event)
        else:
            out.append((handler, [event]))
    return out


async def feed(sessions: Any, handlers: dict[str, Any], events: list[CloudEvent]) -> None:
    """One poll: transactions as the runner makes them (a batched run, or up to 64 single events)."""
    batch: list[tuple[Any, list[CloudEvent]]] = []
    singles = 0

    async def commit() -> None:
        async with unit_of_work(sessions) as session:
            for handler, run in batch:
                pairs = [(e, e.typed_data()) for e in run]
                if isinstance(handler, Batched):
                    await handler.many(session, pairs)
                else:
                    await handler(session, *pairs[0])

    for handler, run in runs(handlers, events):
        if isinstance(handler, Batched) and handler.limit is not None and len(run) == handler.limit:
            if batch:
                await commit()
            batch, singles = [(handler, run)], 0
            await commit()
            batch = []
            continue
        singles += 0 if isinstance(handler, Batched) else 1
        batch.append((handler, run))
        if singles >= 64:
            await commit()
            batch, singles = [], 0
    if batch:
        await commit()


def backends_cpu(pids: set[int]) -> float:
    """CPU seconds (user + system) of these PostgreSQL backends so far, from /proc (0 if not visible)."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


async def backend_pids(dsn: str) -> set[int]:
    import asyncpg

    conn = await asyncpg.connect(dsn)
    try:
        name = dsn.rsplit("/", 1)[1]
        rows = await conn.fetch("SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()", name)
    finally:
        await conn.close()
    return {r["pid"] for r in rows}


async def seed_customers(dsn: str, n: int) -> list[uuid.UUID]:
    import asyncpg

    ids = [uuid.uuid4() for _ in range(n)]
    conn = await asyncpg.connect(dsn)
    now = datetime.now(UTC)
    try:
        await conn.executemany(
            "INSERT INTO customers (id, kind, name, status, tags, created_at, updated_at, version, name_key,"
            " channels, custom_attributes, custom_fields, lifetime_values, purchase_count)"
            " VALUES ($1, 'company', $2, 'prospect', '[]', $3, $3, 1, $2, '[]', '{}', '{}', '{}', 0)",
            [(i, f"customer {k}", now) for k, i in enumerate(ids)],
        )
    finally:
        await conn.close()
    return ids


async def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("service", choices=["customer", "notifications"])
    p.add_argument("--customers", type=int, default=200)
    p.add_argument("--wins", type=int, default=32, help="wins per poll")
    p.add_argument("--polls", type=int, default=10)
    p.add_argument("--warmup", type=int, default=2)
    a = p.parse_args()
    notifications = a.service == "notifications"
    async with scratch_database(PG, a.service) as db:
        engine = create_engine(db.url)
        from sqlalchemy import event as sa_event
        from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

        statements = [0]

        def count(*_: Any) -> None:
            statements[0] += 1

        sa_event.listen(engine.sync_engine, "before_cursor_execute", count)

        sessions = async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)
        if notifications:
            from tessera_notifications.handlers import handlers as make
            from tessera_notifications.main import directory_of
            from tessera_notifications.routing import Routing
            from tessera_notifications.settings import NotificationsSettings
            from tessera_notifications.webhooks.fanout import with_webhooks

            settings: Any = NotificationsSettings(database_url=db.url, kafka_enabled=False, log_json=False)
            handlers = with_webhooks(make(Routing(directory_of(settings), settings)))
            customers = [uuid.uuid4() for _ in range(a.customers)]
        else:
            import tessera_customer.all_models  # noqa: F401
            from tessera_customer.handlers import handlers as make_customer
            from tessera_customer.settings import CustomerSettings

            settings = CustomerSettings(database_url=db.url, kafka_enabled=False, log_json=False)
            handlers = make_customer(settings)
            customers = await seed_customers(db.dsn, a.customers)
        rng = random.Random(7)
        n = 0
        cpu = 0.0
        wins = 0
        pids: set[int] = set()
        pg0 = 0.0
        start = datetime(2026, 1, 1, tzinfo=UTC)
        for poll in range(a.warmup + a.polls):
            events: list[CloudEvent] = []
            for _ in range(a.wins):
                n += 1
                events += win(rng.choice(customers), n, start + timedelta(hours=n), notifications=notifications)
            # A poll holds each topic's records in their order: sales' first, then billing's, then customer's.
            order = {"deal.stage_changed": 0, "deal.won": 0, "invoice.issued": 1, "credit.exposure_changed": 1}
            events.sort(key=lambda e: order.get(e.type, 2))
            if poll == a.warmup:  # the pool's connections are open by now: their backends are the ones measured
                statements[0] = 0
                pids = await backend_pids(db.dsn)
                pg0 = backends_cpu(pids)
            t0 = time.process_time()
            await feed(sessions, handlers, events)
            if poll >= a.warmup:
                cpu += time.process_time() - t0
                wins += a.wins
        pg_cpu = backends_cpu(pids) - pg0
        await engine.dispose()
    load = os.getloadavg()
    print(
        f"{a.service}: {cpu / wins * 1000:.3f} ms CPU per win (PostgreSQL's backends {pg_cpu / wins * 1000:.2f}),"
        f" {statements[0] / wins:.2f} statements per win"
        f" ({wins} wins, {a.wins} per poll,"
        f" {a.customers} customers) load {load[0]:.2f} {date.today()} {time.strftime('%H:%M:%S')}"
    )


if __name__ == "__main__":
    asyncio.run(main())
