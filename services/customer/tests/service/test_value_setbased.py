"""The set-based value recomputation (PostgreSQL SQL) agrees with the Python path over rules.py, on
the same random population: every value column, the tier history, timeline lines and events."""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import insert, select, text
from sqlmodel import col

import tessera_customer.main as customer_main
from tessera_customer.customers.models import Customer
from tessera_customer.settings import CustomerSettings
from tessera_customer.timeline.models import TimelineEntry
from tessera_customer.value import setbased
from tessera_customer.value.models import CustomerSignals, PaymentFact, Purchase, TierChange
from tessera_customer.value.service import recompute_values
from tessera_shared.db import create_engine, session_factory
from tessera_shared.infra_tables import outbox
from tessera_shared.testing.databases import DatabaseFactory
from tessera_shared.testing.plugin import migrations_of

# Dialect branches (SQL that differs on SQLite): the whole module runs on both databases.
pytestmark = pytest.mark.sqlite

AS_OF = datetime(2026, 6, 1, tzinfo=UTC)
VALUE_COLUMNS = (
    "tier",
    "monetary",
    "rfm_recency",
    "rfm_frequency",
    "rfm_monetary",
    "rfm_segment",
    "frequency_class",
    "lifecycle_stage",
    "churn_risk",
    "value_computed_at",
)


def population(seed: int) -> dict[str, list[dict[str, Any]]]:
    """Customers with ties in revenue and dates, several currencies (one without a rate), merged and
    unknown customers, earlier tiers, service signals, and facts outside the window or in the future."""
    rnd = random.Random(seed)
    ids = [uuid.UUID(int=rnd.getrandbits(128)) for _ in range(60)]
    customers = [
        {
            "id": i,
            "kind": "person",
            "name": f"c{n}",
            "tier": rnd.choice([None, "key", "ordinary", "small"]),
            "last_purchase_at": AS_OF - timedelta(days=rnd.choice([3, 100, 200, 400])) if n % 5 else None,
            "merged_into_id": ids[0] if n % 17 == 16 else None,
        }
        for n, i in enumerate(ids)
    ]
    owners = [*ids, uuid.uuid4()]  # facts of a customer this service no longer has
    purchases, payments = [], []
    for n in range(150):
        owner = rnd.choice(owners[:45] + owners[-1:])
        at = AS_OF - timedelta(days=rnd.choice([1, 30, 30, 90, 200, 300, 500]), hours=rnd.choice([0, 0, 7]))
        purchases.append(
            {
                "id": uuid.uuid4(),
                "customer_id": owner,
                "key": f"deal:{n}",
                "source": "deal",
                "amount": Decimal(rnd.choice([100, 250, 250, 999])),
                "currency": "EUR",
                "occurred_at": at if n % 40 else AS_OF + timedelta(days=3),
            }
        )
    for _ in range(170):
        owner = rnd.choice(owners[:40] + owners[50:])
        payments.append(
            {
                "payment_id": uuid.uuid4(),
                "customer_id": owner,
                "amount": Decimal(rnd.choice(["50", "100.0001", "250", "250", "1000.5"])),
                "currency": rnd.choice(["EUR", "EUR", "USD", "GBP"]),
                "received_at": AS_OF - timedelta(days=rnd.choice([2, 60, 120, 250, 400])),
            }
        )
    signals: list[dict[str, Any]] = [
        {
            "customer_id": i,
            "open_tickets": ["t"] * rnd.randint(0, 4),
            "escalated_tickets": ["e"] * rnd.randint(0, 2),
            "overdue_invoices": ["o"] * rnd.randint(0, 3),
            "sla_breaches": rnd.randint(0, 3),
            "last_csat": rnd.choice([None, 1, 2, 5]),
            "lost_deals": 0,
            "lost_reasons": {},
        }
        for i in ids[::3]
    ]
    return {"customers": customers, "purchases": purchases, "payments": payments, "signals": signals}


async def snapshot(sessions: Any) -> dict[str, Any]:
    async with sessions() as s:
        # Money on SQLite is text and keeps the digits it was given; PostgreSQL rounds to numeric(20,4).
        values = {
            r[0]: (r[1], r[2].quantize(Decimal("0.0001")), *r[3:])
            for r in await s.execute(select(col(Customer.id), *(getattr(Customer, c) for c in VALUE_COLUMNS)))
        }
        history = sorted(
            [(r.customer_id, r.from_tier, r.to_tier, r.changed_at) for r in await s.scalars(select(TierChange))],
            key=str,
        )
        lines = sorted(
            [
                (r.customer_id, r.summary, r.occurred_at, r.source, json.dumps(r.data, sort_keys=True))
                for r in await s.scalars(
                    select(TimelineEntry).where(col(TimelineEntry.kind) == "customer.tier_changed")
                )
            ],
            key=str,
        )
        events = []
        for row in await s.execute(select(outbox).where(outbox.c.event_type == "customer.tier_changed")):
            envelope = json.loads(row.envelope)
            assert (
                envelope["id"] == str(row.event_id) and row.key == envelope["subject"] and row.topic == "crm.customer"
            )
            # Same fields in the same order as publish() writes them; only the id and the send time differ.
            events.append(list({**envelope, "id": "-", "time": "-"}.items()))
    return {"values": values, "history": history, "lines": lines, "events": sorted(events, key=str)}


async def run(url: str, data: dict[str, list[dict[str, Any]]], *, set_based: bool) -> list[dict[str, Any]]:
    settings = CustomerSettings(
        database_url=url,
        kafka_enabled=False,
        log_json=False,
        tier_small_share=Decimal("0.1"),
        fx_rates={"USD": Decimal("0.92")},
        tier_vip_lifetime_value=Decimal("2000"),
    )
    engine = create_engine(url)
    sessions = session_factory(engine)
    try:
        async with sessions() as s, s.begin():
            for model, rows in (
                (Customer, data["customers"]),
                (Purchase, data["purchases"]),
                (PaymentFact, data["payments"]),
                (CustomerSignals, data["signals"]),
            ):
                s.add_all(model(**row) for row in rows)  # the ORM fills the models' defaults
        results = []
        for as_of, extra in ((AS_OF, None), (AS_OF, None), (AS_OF + timedelta(days=40), data["more"])):
            if extra:
                async with sessions() as s, s.begin():
                    await s.execute(insert(PaymentFact), extra)
            counts = await recompute_values(sessions, settings, as_of, set_based=set_based)
            results.append({"counts": counts, **await snapshot(sessions)})
        return results
    finally:
        await engine.dispose()


async def test_sql_path_agrees_with_the_rules(
    databases: DatabaseFactory, backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Chunks of 7: several of each kind (moving customers in id order, the others hashed), two at once.
    monkeypatch.setattr(setbased, "CHUNK", 7)
    applied: list[list[int]] = []
    apply = setbased._apply

    async def recording(statement: Any, params: dict[str, Any], chunks: list[int], conns: list[Any]) -> int:
        assert len(conns) == setbased.WORKERS == 2
        applied.append(chunks)
        return await apply(statement, params, chunks, conns)

    monkeypatch.setattr(setbased, "_apply", recording)
    migrations = migrations_of(customer_main.__file__)
    data = population(7)
    rnd = random.Random(8)
    data["more"] = [
        {
            "payment_id": uuid.uuid4(),
            "customer_id": c["id"],
            "amount": Decimal(rnd.choice([300, 5000])),
            "currency": "EUR",
            "received_at": AS_OF + timedelta(days=20),
        }
        for c in data["customers"][40:48]
    ]
    rules_path = await run(await databases.new("customer", backend, migrations), data, set_based=False)
    url = await databases.new("customer", "postgres", migrations)
    sql_path = await run(url, data, set_based=True)
    for step, (expected, got) in enumerate(zip(rules_path, sql_path, strict=True)):
        assert got == expected, f"run {step}"
    first, again, later = sql_path
    assert first["counts"]["tier_changes"] > 10 and again["counts"]["tier_changes"] == 0
    assert len(first["events"]) == len(first["history"]) == len(first["lines"]) == first["counts"]["tier_changes"]
    assert len(later["events"]) == len(first["events"]) + later["counts"]["tier_changes"] > len(first["events"])
    assert {v[0] for v in first["values"].values()} == {"key", "ordinary", "small", None}  # None: merged or no facts
    # First run: every customer moves (id order); the same run again: none does (hashed); later: both.
    assert sum(n >= 0 for n in applied[0]) > 4 and all(n < 0 for n in applied[1])
    assert any(n >= 0 for n in applied[2]) and any(n < 0 for n in applied[2])
    assert await run_tables(url) == []


async def run_tables(url: str) -> list[str]:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return list(
                (
                    await conn.scalars(
                        text(
                            r"SELECT relname FROM pg_class WHERE relname LIKE 'value\_run\_%'"
                            " ORDER BY relname"
                        )
                    )
                ).all()
            )
    finally:
        await engine.dispose()


async def test_a_crashed_runs_table_is_dropped_by_the_next_run(databases: DatabaseFactory) -> None:
    url = await databases.new("customer", "postgres", migrations_of(customer_main.__file__))
    engine = create_engine(url)
    settings = CustomerSettings(database_url=url, kafka_enabled=False, log_json=False)
    try:
        async with engine.connect() as running, engine.connect() as crashed:
            for name, conn in (("value_run_running", running), ("value_run_crashed", crashed)):
                await conn.execute(text(f"CREATE UNLOGGED TABLE {name} (id uuid)"))
                await conn.execute(
                    text("SELECT pg_advisory_lock(CAST(:ns AS int), hashtext(:run))"),
                    {"ns": setbased._LOCKS, "run": name},
                )
                await conn.commit()
            await crashed.invalidate()  # its session ends, and the lock with it
            await setbased.recompute(session_factory(engine), settings, AS_OF)
            # Another run still holds its table; only the crashed run's is gone.
            assert await run_tables(url) == ["value_run_running"]
    finally:
        await engine.dispose()


class FakeConnection:
    """Applies a chunk after yielding to the other workers; fails on one chunk if told to."""

    def __init__(self, fail_on: int | None = None) -> None:
        self.applied: list[int] = []
        self.fail_on = fail_on

    @contextlib.asynccontextmanager
    async def begin(self) -> AsyncIterator[None]:
        yield

    async def execute(self, _statement: Any, params: dict[str, Any]) -> Any:
        await asyncio.sleep(0)
        if params["chunk"] == self.fail_on:
            raise RuntimeError("chunk failed")
        self.applied.append(params["chunk"])
        return FakeResult()


class FakeResult:
    def one(self) -> tuple[int, list[uuid.UUID]]:
        return 1, []  # one tier change, no customer left


async def test_chunks_are_shared_out_once_and_a_failure_stops_the_others() -> None:
    a, b = FakeConnection(), FakeConnection()
    assert await setbased._apply(text("x"), {}, list(range(-5, 5)), [a, b]) == 10  # type: ignore[list-item]
    assert sorted(a.applied + b.applied) == list(range(-5, 5)) and a.applied and b.applied
    a, b = FakeConnection(fail_on=2), FakeConnection(fail_on=2)
    with pytest.raises(RuntimeError, match="chunk failed"):
        await setbased._apply(text("x"), {}, list(range(10)), [a, b])  # type: ignore[list-item]
    assert len(a.applied + b.applied) < 5  # the others finish what they hold, then take no more
