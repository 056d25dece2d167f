"""Builders for the customer service's tests: event facts, delivery to the handlers, API shortcuts."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import httpx
import orjson
from fastapi import FastAPI
from sqlalchemy import func, select, update

from tessera_customer.customers.models import Customer
from tessera_customer.handlers import handlers
from tessera_shared.db import unit_of_work
from tessera_shared.events import build_event
from tessera_shared.events.contracts import (
    Allocation,
    DealLost,
    DealWon,
    InvoiceOverdue,
    InvoicePaid,
    PaymentReceived,
    SurveyAnswered,
    TicketEscalated,
    TicketOpened,
)
from tessera_shared.events.envelope import EventData
from tessera_shared.infra_tables import outbox
from tessera_shared.testing.builders import customer_payload
from tessera_shared.testing.plugin import bearer

PROBLEM = "application/problem+json"
NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)


def at(y: int, m: int, d: int) -> datetime:
    return datetime(y, m, d, 12, tzinfo=UTC)


def deal_won(
    customer_id: str | uuid.UUID,
    *,
    deal_id: uuid.UUID | None = None,
    amount: str = "1000.00",
    won_at: datetime = NOW,
    currency: str = "EUR",
) -> DealWon:
    return DealWon(
        deal_id=deal_id or uuid.uuid4(),
        customer_id=uuid.UUID(str(customer_id)),
        title="Licences",
        amount=Decimal(amount),
        currency=currency,
        line_items=[],
        won_at=won_at,
    )


def deal_lost(customer_id: str, reason: str = "price") -> DealLost:
    return DealLost(
        deal_id=uuid.uuid4(),
        customer_id=uuid.UUID(customer_id),
        amount=Decimal("50"),
        currency="EUR",
        reason=reason,
        lost_at=NOW,
    )


def invoice_paid(
    customer_id: str,
    *,
    total: str = "250.00",
    invoice_id: uuid.UUID | None = None,
    deal_id: uuid.UUID | None = None,
    paid_at: datetime = NOW,
    paid_with_points: str = "0",
) -> InvoicePaid:
    return InvoicePaid(
        invoice_id=invoice_id or uuid.uuid4(),
        number="INV-1",
        customer_id=uuid.UUID(customer_id),
        deal_id=deal_id,
        total=Decimal(total),
        currency="EUR",
        paid_at=paid_at,
        paid_with_points=Decimal(paid_with_points),
    )


def payment(
    customer_id: str,
    amount: str,
    *,
    received_at: datetime = NOW,
    currency: str = "EUR",
    invoice_id: uuid.UUID | None = None,
    method: str = "transfer",
) -> PaymentReceived:
    allocations = [Allocation(invoice_id=invoice_id, amount=Decimal(amount))] if invoice_id else []
    return PaymentReceived(
        payment_id=uuid.uuid4(),
        customer_id=uuid.UUID(customer_id),
        amount=Decimal(amount),
        currency=currency,
        method=method,
        received_on=received_at.date(),
        allocations=allocations,
        unallocated=Decimal(0) if invoice_id else Decimal(amount),
        received_at=received_at,
    )


def ticket_opened(customer_id: str, ticket_id: uuid.UUID | None = None) -> TicketOpened:
    return TicketOpened(
        ticket_id=ticket_id or uuid.uuid4(),
        customer_id=uuid.UUID(customer_id),
        subject="Broken",
        channel="email",
        category="fault",
        priority="high",
        opened_at=NOW,
    )


def ticket_escalated(customer_id: str, ticket_id: uuid.UUID) -> TicketEscalated:
    return TicketEscalated(
        ticket_id=ticket_id,
        customer_id=uuid.UUID(customer_id),
        level=2,
        reason="angry",
        priority="urgent",
        escalated_at=NOW,
    )


def survey(customer_id: str, csat: int) -> SurveyAnswered:
    return SurveyAnswered(
        survey_id=uuid.uuid4(), ticket_id=uuid.uuid4(), customer_id=uuid.UUID(customer_id), csat=csat, answered_at=NOW
    )


def overdue(customer_id: str, invoice_id: uuid.UUID | None = None) -> InvoiceOverdue:
    return InvoiceOverdue(
        invoice_id=invoice_id or uuid.uuid4(),
        number="INV-9",
        customer_id=uuid.UUID(customer_id),
        amount_due=Decimal("99"),
        currency="EUR",
        due_date=date(2026, 5, 1),
        days_overdue=31,
        detected_at=NOW,
    )


async def deliver(app: FastAPI, data: EventData, *, event_id: uuid.UUID | None = None) -> None:
    """What the consumer runner does for one message, minus Kafka and the inbox."""
    envelope = build_event(data, subject=getattr(data, "customer_id", None), event_id=event_id)
    handler = handlers(app.state.settings)[data.event_type]
    async with unit_of_work(app.state.runtime.sessions) as session:
        await handler(session, envelope, data)


async def create(client: httpx.AsyncClient, app: FastAPI, who: tuple[str, ...] = ("a", "admin"), **fields: Any) -> dict:
    r = await client.post("/v1/customers", json=customer_payload(**fields), headers=bearer(app, *who))
    assert r.status_code == 201, r.text
    return r.json()


async def events(app: FastAPI, event_type: str | None = None) -> list[dict[str, Any]]:
    async with app.state.runtime.sessions() as s:
        stmt = select(outbox.c.envelope).order_by(outbox.c.seq)
        if event_type:
            stmt = stmt.where(outbox.c.event_type == event_type)
        return [orjson.loads(e) for e in (await s.scalars(stmt)).all()]


async def count(app: FastAPI, table: Any, *where: Any) -> int:
    async with app.state.runtime.sessions() as s:
        return int(await s.scalar(select(func.count()).select_from(table).where(*where)))


# A customer with every kind of value its answer carries, for the tests that compare two ways of
# writing that answer: what a client sends (RICH_INPUT), then what the value jobs compute
# (COMPUTED_VALUES, written with ``set_columns``): decimals to the cent, times with microseconds,
# a channel without a label, nested segmentation.
RICH_INPUT: dict[str, Any] = {
    "name": "Zoë Ærø",
    "tags": ["vip", "newsletter"],
    "phone": "+49 30 1234",
    "owner_id": "rep1",
    "relation": "consumer",
    "relationship_type": "partner",
    "channels": [{"kind": "phone", "value": "+49 30 999"}, {"kind": "email", "value": "z@x.org", "label": "work"}],
    "segmentation": {
        "demographic": {"gender": "f", "age_band": "30-39"},
        "geographic": {"country": "DE", "city": "Köln"},
        "psychographic": {"preferences": ["tea", "bikes"]},
    },
}
COMPUTED_VALUES: dict[str, Any] = {
    "lifetime_values": {"EUR": "1234.5", "USD": "0.1"},
    "monetary": Decimal("1234.5678"),
    "purchase_count": 3,
    "first_purchase_at": datetime(2026, 1, 2, 3, 4, 5, 6000, tzinfo=UTC),
    "last_purchase_at": datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC),
    "value_computed_at": datetime(2026, 3, 5, tzinfo=UTC),
    "tier": "gold",
    "rfm_recency": 5,
    "rfm_segment": "champions",
    "churn_risk": 7,
}


async def set_columns(app: FastAPI, customer_id: str, **values: Any) -> None:
    """Write ``values`` into a customer's row directly (what no API call sets)."""
    table = Customer.__table__
    async with app.state.runtime.sessions() as s:
        await s.execute(update(table).where(table.c.id == uuid.UUID(customer_id)).values(**values))
        await s.commit()
