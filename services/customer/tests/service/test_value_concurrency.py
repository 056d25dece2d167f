"""The value recomputation against the customer service's own consumer, on two replicas at once
(issue 20 item 1): real PostgreSQL, real Kafka, the real consumer runner and handlers.

Two app instances (two engines, one database, one consumer group) consume a burst of billing
events while both run the value recomputation 20 times each through the endpoint. No run may
answer anything but 200, PostgreSQL may count no deadlock at all in the database, every payment
and purchase lands once, the tier history stays a chain, and a quiet run afterwards agrees with
the rules' Python path.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import asyncpg
import orjson
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError
from sqlmodel import col

import tessera_customer.main as customer_main
from tessera_customer.customers.models import Customer
from tessera_customer.settings import CustomerSettings
from tessera_customer.value import setbased
from tessera_customer.value.models import PaymentFact, Purchase, TierChange
from tessera_customer.value.service import VALUE_COLUMNS, recompute_values
from tessera_shared.db import create_engine, session_factory
from tessera_shared.events import build_event
from tessera_shared.events.contracts import InvoicePaid, PaymentReceived
from tessera_shared.infra_tables import outbox
from tessera_shared.kafka import make_producer
from tessera_shared.testing.databases import DatabaseFactory
from tessera_shared.testing.plugin import bearer, migrations_of, running

AS_OF = datetime(2026, 6, 2, tzinfo=UTC)
CUSTOMERS = 240
EVENTS = 2400  # half payments, half paid invoices (a purchase each)
ROUNDS = 20


def _settings(url: str, kafka_bootstrap: str, namespace: str) -> CustomerSettings:
    return CustomerSettings(
        database_url=url,
        kafka_bootstrap=kafka_bootstrap,
        kafka_topic_namespace=namespace,
        kafka_consumer_group=f"{namespace}customer",
        kafka_partitions=4,
        log_json=False,
        jobs_enabled=False,
    )


def _burst(ids: list[uuid.UUID], rnd: random.Random) -> list[PaymentReceived | InvoicePaid]:
    facts: list[PaymentReceived | InvoicePaid] = []
    for n in range(EVENTS):
        customer = rnd.choice(ids)
        amount = Decimal(rnd.choice(["10", "99.5", "250", "1000", "4000"]))
        at = AS_OF - timedelta(days=rnd.randint(1, 300))
        if n % 2:
            facts.append(
                PaymentReceived(
                    payment_id=uuid.uuid4(),
                    customer_id=customer,
                    amount=amount,
                    currency="EUR",
                    method="transfer",
                    received_on=at.date(),
                    allocations=[],
                    unallocated=amount,
                    received_at=at,
                )
            )
        else:
            facts.append(
                InvoicePaid(
                    invoice_id=uuid.uuid4(),
                    number=f"INV-{n}",
                    customer_id=customer,
                    deal_id=None,
                    total=amount,
                    currency="EUR",
                    paid_at=at,
                    paid_with_points=Decimal(0),
                )
            )
    return facts


async def _seed(app: FastAPI, ids: list[uuid.UUID], rnd: random.Random) -> None:
    async with app.state.runtime.sessions() as s, s.begin():
        s.add_all(Customer(id=i, kind="company", name=f"c{n}", status="prospect") for n, i in enumerate(ids))
        await s.flush()
        s.add_all(
            Purchase(
                customer_id=i,
                key=f"seed:{i}",
                source="deal",
                amount=Decimal(100),
                currency="EUR",
                occurred_at=AS_OF - timedelta(days=rnd.randint(1, 400)),
            )
            for i in ids
        )


async def _values(app: FastAPI) -> dict[uuid.UUID, tuple[Any, ...]]:
    async with app.state.runtime.sessions() as s:
        rows = await s.execute(select(col(Customer.id), *(getattr(Customer, c) for c in VALUE_COLUMNS)))
        return {r[0]: tuple(r[1:]) for r in rows}


async def _deadlocks(url: str) -> int:
    """deadlocks of pg_stat_database for the test's database (read after its backends are gone,
    which flushes their counts)."""
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            await asyncio.sleep(1.1)  # a backend's counts reach shared memory within a second
            return int(
                await conn.scalar(text("SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()"))
                or 0
            )
    finally:
        await engine.dispose()


async def test_value_runs_on_two_replicas_during_a_billing_burst(
    databases: DatabaseFactory, kafka_bootstrap: str, namespace: str
) -> None:
    url = await databases.new("customer", "postgres", migrations_of(customer_main.__file__))
    rnd = random.Random(20)
    ids = sorted(uuid.UUID(int=rnd.getrandbits(128)) for _ in range(CUSTOMERS))
    facts = _burst(ids, rnd)
    replicas = [customer_main.create_app(_settings(url, kafka_bootstrap, namespace)) for _ in range(2)]
    statuses: Counter[int] = Counter()
    async with running(replicas[0]) as first, running(replicas[1]) as second:
        await _seed(replicas[0], ids, rnd)
        runners = [app.state.runtime.consumer for app in replicas]
        await asyncio.wait_for(asyncio.gather(*(r.assigned.wait() for r in runners)), 60)

        async def send_burst() -> None:
            producer = make_producer(kafka_bootstrap, client_id="burst")
            await producer.start()
            try:
                for start in range(0, len(facts), 100):
                    for data in facts[start : start + 100]:
                        envelope = build_event(data, subject=data.customer_id)
                        await producer.send(
                            f"{namespace}crm.billing", envelope.to_json(), key=str(data.customer_id).encode()
                        )
                    await producer.flush()
                    await asyncio.sleep(0.05)
            finally:
                await producer.stop()

        async def value_runs(client: Any, app: FastAPI) -> None:
            headers = bearer(app, "svc", "service")
            for _ in range(ROUNDS):
                r = await client.post(
                    "/v1/customers/value-recomputations", json={"as_of": AS_OF.isoformat()}, headers=headers
                )
                statuses[r.status_code] += 1

        started = asyncio.get_running_loop().time()
        burst = asyncio.create_task(send_burst())
        await asyncio.sleep(0.3)  # the consumers are busy when the runs start
        await asyncio.gather(value_runs(first, replicas[0]), value_runs(second, replicas[1]))
        runs_took = asyncio.get_running_loop().time() - started
        await burst
        print(f"40 value runs in {runs_took:.1f} s; burst consumed {sum(r.applied for r in runners)}")
        assert statuses == {200: 2 * ROUNDS}
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 120
        # Polling to a deadline (ASYNC110): the runners' counters have no event to wait on.
        while sum(r.applied + r.duplicates for r in runners) < EVENTS and loop.time() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.1)
        assert [r.dead_lettered for r in runners] == [0, 0]
        assert sum(r.applied for r in runners) == EVENTS

        # Every fact landed once: lifetime value and purchases per customer, as the burst sent them.
        paid: dict[uuid.UUID, Decimal] = defaultdict(Decimal)
        bought: Counter[uuid.UUID] = Counter()
        for data in facts:
            if isinstance(data, PaymentReceived):
                paid[data.customer_id] += data.amount
            else:
                bought[data.customer_id] += 1
        async with replicas[0].state.runtime.sessions() as s:
            customers = {c.id: c for c in (await s.scalars(select(Customer))).all()}
            assert await s.scalar(select(func.count()).select_from(PaymentFact)) == EVENTS // 2
            # In the order written: a customer's second change waits for the lock of the first.
            events = (
                await s.scalars(
                    select(outbox.c.envelope)
                    .where(outbox.c.event_type == "customer.tier_changed")
                    .order_by(outbox.c.seq)
                )
            ).all()
            assert await s.scalar(select(func.count()).select_from(TierChange)) == len(events)
        for i in ids:
            assert Decimal(customers[i].lifetime_values.get("EUR", "0")) == paid[i]
            assert customers[i].purchase_count == bought[i]  # the seeded purchase went in directly
        # The tier history of each customer is a chain ending at its tier: a tier change read under
        # the row's lock, never decided on a stale tier by one of the racing runs.
        chains: dict[uuid.UUID, list[tuple[str | None, str]]] = defaultdict(list)
        for envelope in events:
            data = orjson.loads(envelope)["data"]
            chains[uuid.UUID(data["customer_id"])].append((data["from_tier"], data["to_tier"]))
        assert len(chains) == CUSTOMERS
        for i, changes in chains.items():
            tiers = [None] + [to for _, to in changes]
            assert [from_ for from_, _ in changes] == tiers[:-1], i
            assert customers[i].tier == tiers[-1]

        # A quiet run, then the rules' Python path over the same facts: nothing left to change.
        headers = bearer(replicas[0], "svc", "service")
        r = await first.post("/v1/customers/value-recomputations", json={"as_of": AS_OF.isoformat()}, headers=headers)
        assert r.status_code == 200, r.text
        settled = await _values(replicas[0])
        again = await recompute_values(
            replicas[0].state.runtime.sessions, replicas[0].state.settings, AS_OF, set_based=False
        )
        assert again["tier_changes"] == 0
        assert await _values(replicas[0]) == settled
    assert await _deadlocks(url) == 0


async def test_rows_held_by_a_consumer_are_applied_after_it_commits(databases: DatabaseFactory) -> None:
    """A run meets customers locked (and changed) by a consumer's transaction: it goes on without
    waiting for them, then applies them once they are free, on their committed state."""
    url = await databases.new("customer", "postgres", migrations_of(customer_main.__file__))
    settings = CustomerSettings(database_url=url, kafka_enabled=False, log_json=False)
    engine = create_engine(url)
    sessions = session_factory(engine)
    ids = sorted(uuid.uuid4() for _ in range(30))
    try:
        async with sessions() as s, s.begin():
            s.add_all(Customer(id=i, kind="company", name=f"c{n}", status="prospect") for n, i in enumerate(ids))
            await s.flush()
            s.add_all(
                PaymentFact(
                    payment_id=uuid.uuid4(),
                    customer_id=i,
                    amount=Decimal(10 * (n + 1)),
                    currency="EUR",
                    received_at=AS_OF - timedelta(days=5),
                )
                for n, i in enumerate(ids)
            )
        held = ids[3:30:5]
        async with engine.connect() as consumer:
            # The consumer's way: one customer at a time, FOR UPDATE, in event order (here: reversed).
            for i in reversed(held):
                await consumer.execute(text("SELECT id FROM customers WHERE id = :id FOR UPDATE"), {"id": i})
                await consumer.execute(
                    text("UPDATE customers SET purchase_count = purchase_count + 1 WHERE id = :id"), {"id": i}
                )
            run = asyncio.create_task(setbased.recompute(sessions, settings, AS_OF))
            await asyncio.sleep(1.5)  # the run has scored and applied every row it could lock
            assert not run.done()  # it waits for the held ones only
            async with sessions() as s:
                done = set(
                    (await s.scalars(select(col(Customer.id)).where(col(Customer.value_computed_at) == AS_OF))).all()
                )
            assert done == set(ids) - set(held)
            await consumer.commit()
        assert (await asyncio.wait_for(run, 30))["customers"] == len(ids)
        async with sessions() as s:
            rows = (await s.execute(select(Customer).where(col(Customer.id).in_(ids)))).scalars().all()
        assert {c.id for c in rows if c.value_computed_at == AS_OF} == set(ids)  # none left out
        assert {c.id for c in rows if c.purchase_count == 1} == set(held)  # the consumer's writes kept
        assert all(c.tier is not None for c in rows)
    finally:
        await engine.dispose()


async def test_a_run_that_keeps_losing_races_answers_503(
    databases: DatabaseFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = await databases.new("customer", "postgres", migrations_of(customer_main.__file__))
    app = customer_main.create_app(CustomerSettings(database_url=url, kafka_enabled=False, log_json=False))
    calls: list[datetime] = []

    async def deadlocked(sessions: Any, settings: CustomerSettings, as_of: datetime) -> dict[str, int]:
        calls.append(as_of)
        raise DBAPIError("UPDATE customers", {}, asyncpg.exceptions.DeadlockDetectedError("deadlock detected"))

    monkeypatch.setattr(setbased, "recompute", deadlocked)
    async with running(app) as client:
        r = await client.post(
            "/v1/customers/value-recomputations", json={"as_of": AS_OF.isoformat()}, headers=bearer(app, "m", "service")
        )
    assert r.status_code == 503 and r.headers["Retry-After"] == "30", r.text
    assert r.json()["type"].endswith("service-unavailable")
    assert len(calls) == 3  # tried again before giving up
