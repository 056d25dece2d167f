"""Billing keeps a credit profile per customer, created once from customer.created."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from decimal import Decimal

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select

import tessera_billing.main as billing_main
from tessera_billing.credit.models import CreditProfile
from tessera_billing.settings import BillingSettings
from tessera_shared.events import build_event
from tessera_shared.events.contracts import CustomerCreated
from tessera_shared.kafka import make_producer
from tessera_shared.testing.databases import DatabaseFactory
from tessera_shared.testing.plugin import bearer, migrations_of, running


def customer_created(customer_id: uuid.UUID, name: str = "Acme GmbH") -> CustomerCreated:
    return CustomerCreated(
        customer_id=customer_id,
        kind="organization",
        name=name,
        email=None,
        owner_id="rep1",
        status="prospect",
        created_at=datetime.now(UTC),
    )


async def billing_app(databases: DatabaseFactory, backend: str, kafka: str, namespace: str) -> FastAPI:
    url = await databases.new("billing", backend, migrations_of(billing_main.__file__))
    return billing_main.create_app(
        BillingSettings(
            database_url=url,
            kafka_bootstrap=kafka,
            kafka_topic_namespace=namespace,
            kafka_consumer_group=f"{namespace}billing",
            kafka_partitions=3,
            log_json=False,
            default_credit_limit=Decimal("5000.00"),
            default_currency="EUR",
        )
    )


async def eventually(
    client: httpx.AsyncClient, url: str, headers: dict[str, str], timeout: float = 30
) -> httpx.Response:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        r = await client.get(url, headers=headers)
        if r.status_code == 200 or asyncio.get_running_loop().time() > deadline:
            return r
        await asyncio.sleep(0.1)


async def test_customer_created_makes_one_credit_profile(databases, backend, kafka_bootstrap, namespace) -> None:
    app = await billing_app(databases, backend, kafka_bootstrap, namespace)
    customer_id = uuid.uuid4()
    envelope = build_event(customer_created(customer_id), subject=customer_id)
    async with running(app) as client:
        producer = make_producer(kafka_bootstrap, client_id="test")
        await producer.start()
        try:
            for _ in range(3):  # the same event delivered three times
                await producer.send_and_wait(
                    f"{namespace}crm.customer", envelope.to_json(), key=str(customer_id).encode()
                )
        finally:
            await producer.stop()
        headers = bearer(app, "clerk", "billing_clerk")
        r = await eventually(client, f"/v1/credit/{customer_id}", headers)
        assert r.status_code == 200, r.text
        profile = r.json()
        assert profile["customer_name"] == "Acme GmbH"
        assert Decimal(profile["credit_limit"]) == Decimal("5000.00")
        assert profile["currency"] == "EUR"
        assert profile["payment_terms_days"] == 30
        runner = app.state.runtime.consumer
        deadline = asyncio.get_running_loop().time() + 30
        # The consumer keeps counters and sets no event: poll them.
        while runner.applied + runner.duplicates < 3 and asyncio.get_running_loop().time() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        assert (runner.applied, runner.duplicates) == (1, 2)
        async with app.state.runtime.sessions() as s:
            assert await s.scalar(select(func.count()).select_from(CreditProfile)) == 1


async def test_credit_profile_access(databases, backend, kafka_bootstrap, namespace) -> None:
    app = await billing_app(databases, backend, kafka_bootstrap, namespace)
    async with running(app) as client:
        unknown = uuid.uuid4()
        assert (await client.get(f"/v1/credit/{unknown}")).status_code == 401
        r = await client.get(f"/v1/credit/{unknown}", headers=bearer(app, "agent", "support_agent"))
        assert r.status_code == 403
        r = await client.get(f"/v1/credit/{unknown}", headers=bearer(app, "fin", "finance_manager"))
        assert r.status_code == 404
        assert r.headers["content-type"] == "application/problem+json"
        r = await client.get("/v1/credit/nope", headers=bearer(app, "fin", "finance_manager"))
        assert r.status_code == 422


async def test_customer_created_names_an_early_profile_and_keeps_its_terms(app: FastAPI) -> None:
    from tessera_billing.credit.handlers import customer_created_handler
    from tessera_shared.db import unit_of_work

    handler = customer_created_handler(BillingSettings(default_credit_limit=Decimal("5000.00"), default_currency="EUR"))
    early, fresh = uuid.uuid4(), uuid.uuid4()

    async def consume(cid: uuid.UUID, name: str) -> None:
        data = customer_created(cid, name)
        async with unit_of_work(app.state.runtime.sessions) as s:
            await handler(s, build_event(data, subject=cid), data)

    async with running(app):
        async with unit_of_work(app.state.runtime.sessions) as s:  # as a deal arriving first makes it
            s.add(
                CreditProfile(
                    customer_id=early,
                    rating="B",
                    credit_limit=Decimal("1200.00"),
                    currency="SEK",
                    payment_terms_days=14,
                )
            )
        await consume(early, "Acme GmbH")
        await consume(fresh, "Fresh AB")
        await consume(fresh, "Renamed AB")  # a second announcement does not rename
        async with app.state.runtime.sessions() as s:
            kept, made = await s.get(CreditProfile, early), await s.get(CreditProfile, fresh)
    assert (kept.customer_name, kept.credit_limit, kept.currency, kept.payment_terms_days) == (
        "Acme GmbH",
        Decimal("1200.00"),
        "SEK",
        14,
    )
    assert (made.customer_name, made.credit_limit, made.currency, made.version) == (
        "Fresh AB",
        Decimal("5000.00"),
        "EUR",
        1,
    )
    assert made.created_at.tzinfo is not None
