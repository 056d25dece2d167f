"""Builders and helpers for billing's tests: apps, events delivered by hand, invoices and payments."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select

import tessera_billing.main as billing_main
from tessera_billing.settings import BillingSettings
from tessera_shared.db import unit_of_work
from tessera_shared.events import build_event
from tessera_shared.events.contracts import CustomerCreated, DealWon, LineItem, TicketClosed, TicketOpened
from tessera_shared.events.envelope import EventData
from tessera_shared.infra_tables import outbox
from tessera_shared.testing.customers import StubCustomers
from tessera_shared.testing.databases import DatabaseFactory
from tessera_shared.testing.plugin import bearer, migrations_of

PROBLEM = "application/problem+json"


async def make_app(databases: DatabaseFactory, backend: str, **overrides: Any) -> FastAPI:
    url = await databases.new("billing", backend, migrations_of(billing_main.__file__))
    settings = {
        "database_url": url,
        "kafka_enabled": False,
        "log_json": False,
        "jobs_enabled": False,
        "default_credit_limit": Decimal("5000.00"),
        "default_currency": "EUR",
        **overrides,
    }
    app = billing_main.create_app(BillingSettings(**settings))
    # Without the customer service: every id is a live customer (tests of §10.2 mark it otherwise).
    app.state.customer_directory = StubCustomers()
    return app


def clerk(app: FastAPI, name: str = "clerk") -> dict[str, str]:
    return bearer(app, name, "billing_clerk")


def finance(app: FastAPI, name: str = "finance") -> dict[str, str]:
    return bearer(app, name, "finance_manager")


async def deliver(app: FastAPI, data: EventData, subject: uuid.UUID) -> None:
    """Run the consumer's handler for ``data`` in one transaction, as the runner would."""
    event = build_event(data, subject=subject)
    handler = app.state.runtime.spec.handlers[event.type]
    async with unit_of_work(app.state.runtime.sessions) as session:
        await handler(session, event, event.typed_data())


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


def deal_won(
    customer_id: uuid.UUID,
    *,
    deal_id: uuid.UUID | None = None,
    currency: str = "EUR",
    won_on: date = date(2026, 3, 1),
    items: list[LineItem] | None = None,
    payment_terms_days: int | None = None,
) -> DealWon:
    items = (
        items
        if items is not None
        else [
            LineItem(
                description="Licence", quantity=Decimal(2), unit_price=Decimal("100.00"), tax_rate_percent=Decimal(19)
            ),
        ]
    )
    return DealWon(
        deal_id=deal_id or uuid.uuid4(),
        customer_id=customer_id,
        title="Big deal",
        amount=Decimal("238.00"),
        currency=currency,
        line_items=items,
        payment_terms_days=payment_terms_days,
        owner_id="rep1",
        won_at=datetime.combine(won_on, datetime.min.time(), UTC),
    )


def invoice_payload(customer_id: uuid.UUID, **overrides: Any) -> dict[str, Any]:
    return {
        "customer_id": str(customer_id),
        "currency": "EUR",
        "lines": [{"description": "Consulting", "quantity": "1", "unit_price": "100.00"}],
        **overrides,
    }


async def issued_invoice(
    app: FastAPI,
    client: httpx.AsyncClient,
    customer_id: uuid.UUID,
    amount: str = "100.00",
    issue_date: date = date(2026, 3, 1),
    terms: int = 30,
    currency: str = "EUR",
) -> dict:
    body = invoice_payload(
        customer_id,
        currency=currency,
        issue=True,
        issue_date=issue_date.isoformat(),
        payment_terms_days=terms,
        lines=[{"description": "Service", "quantity": "1", "unit_price": amount}],
    )
    r = await client.post("/v1/invoices", json=body, headers=clerk(app))
    assert r.status_code == 201, r.text
    return r.json()


async def pay(app: FastAPI, client: httpx.AsyncClient, **body: Any) -> httpx.Response:
    body = {"currency": "EUR", "received_on": "2026-03-10", **body}
    return await client.post(
        "/v1/payments", json={k: str(v) if isinstance(v, uuid.UUID) else v for k, v in body.items()}, headers=clerk(app)
    )


async def events(app: FastAPI, event_type: str | None = None) -> list[dict]:
    """The outbox rows' data, oldest first (optionally of one type)."""
    import orjson

    stmt = select(outbox.c.event_type, outbox.c.envelope).order_by(outbox.c.seq)
    async with app.state.runtime.sessions() as s:
        rows = (await s.execute(stmt)).all()
    return [orjson.loads(env)["data"] | {"_type": t} for t, env in rows if event_type in (None, t)]


async def count(app: FastAPI, table: Any) -> int:
    async with app.state.runtime.sessions() as s:
        return int(await s.scalar(select(func.count()).select_from(table)))


AT = datetime(2026, 4, 1, tzinfo=UTC)


async def run(app: FastAPI, client: httpx.AsyncClient, as_of: str) -> dict:
    r = await client.post("/v1/invoices/overdue-run", params={"as_of": as_of}, headers=clerk(app))
    assert r.status_code == 200, r.text
    return r.json()


def dispute(ticket_id: uuid.UUID, customer_id: uuid.UUID, invoice_id: str) -> TicketOpened:
    return TicketOpened(
        ticket_id=ticket_id,
        customer_id=customer_id,
        subject="Wrong amount",
        channel="email",
        category="billing_dispute",
        priority="normal",
        invoice_id=uuid.UUID(invoice_id),
        opened_at=AT,
    )


def closed(ticket_id: uuid.UUID, customer_id: uuid.UUID, invoice_id: str) -> TicketClosed:
    return TicketClosed(
        ticket_id=ticket_id,
        customer_id=customer_id,
        category="billing_dispute",
        priority="normal",
        invoice_id=uuid.UUID(invoice_id),
        opened_at=AT,
        closed_at=AT,
    )
