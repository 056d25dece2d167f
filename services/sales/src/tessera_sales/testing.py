"""Test builders for the sales service (imported by its tests; importlib mode puts no test dir on sys.path)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import httpx
import orjson
from fastapi import FastAPI
from sqlalchemy import func, select

import tessera_sales.main as sales_main
from tessera_sales.credit.models import CreditLine
from tessera_sales.settings import SalesSettings
from tessera_shared.db import unit_of_work
from tessera_shared.events import EventData, build_event
from tessera_shared.events.contracts import CreditExposureChanged, ExchangeRateSet, InvoiceOverdue
from tessera_shared.infra_tables import outbox
from tessera_shared.testing.plugin import bearer

PROBLEM = "application/problem+json"


def deal_payload(**overrides: Any) -> dict[str, Any]:
    return {
        "customer_id": str(uuid.uuid4()),
        "title": f"Deal {uuid.uuid4().hex[:6]}",
        "amount": "1000.00",
        "currency": "EUR",
        **overrides,
    }


def overdue_event(
    customer_id: uuid.UUID,
    invoice_id: uuid.UUID | None = None,
    *,
    deal_id: uuid.UUID | None = None,
    amount: str = "500.00",
    days: int = 5,
) -> InvoiceOverdue:
    return InvoiceOverdue(
        invoice_id=invoice_id or uuid.uuid4(),
        number="INV-1",
        customer_id=customer_id,
        deal_id=deal_id,
        amount_due=Decimal(amount),
        currency="EUR",
        due_date=date(2026, 1, 1),
        days_overdue=days,
        detected_at=datetime.now(UTC),
    )


class Api:
    """The app under test plus small builders, so tests read as the behaviour they check."""

    def __init__(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        self.app, self.client = app, client

    def as_(self, subject: str, *roles: str) -> dict[str, str]:
        return bearer(self.app, subject, *roles)

    @property
    def manager(self) -> dict[str, str]:
        return self.as_("manager", "sales_manager")

    @property
    def rep1(self) -> dict[str, str]:
        return self.as_("rep1", "sales_rep")

    @property
    def rep2(self) -> dict[str, str]:
        return self.as_("rep2", "sales_rep")

    async def deal(self, headers: dict[str, str] | None = None, **overrides: Any) -> dict[str, Any]:
        """A deal, for a customer whose credit profile billing has announced (``credit_known``)."""
        payload = deal_payload(**overrides)
        await self.credit_known(uuid.UUID(payload["customer_id"]))
        r = await self.client.post("/v1/deals", json=payload, headers=headers or self.rep1)
        assert r.status_code == 201, r.text  # noqa: S101 - a test helper: the calling test fails here
        return r.json()

    async def credit_known(self, customer_id: uuid.UUID, limit: str = "10000.00", currency: str = "EUR") -> None:
        """Billing's announcement of a new credit profile (``profile_created``) consumed, unless sales
        already has one for the customer; dated long ago, so a test's own announcement wins (§10.1)."""
        async with self.app.state.runtime.sessions() as s:
            if await s.get(CreditLine, customer_id) is not None:
                return
        await self.consume(
            CreditExposureChanged(
                customer_id=customer_id,
                credit_limit=Decimal(limit),
                currency=currency,
                rating="B",
                exposure=Decimal(0),
                open_balances=[],
                reason="profile_created",
                changed_at=datetime(2000, 1, 1, tzinfo=UTC),
            )
        )

    async def product(self, code: str, price: str = "100.00", currency: str = "EUR") -> dict[str, Any]:
        r = await self.client.post(
            "/v1/products",
            json={"code": code, "name": f"Product {code}", "unit_price": price, "currency": currency},
            headers=self.manager,
        )
        assert r.status_code == 201, r.text  # noqa: S101 - a test helper: the calling test fails here
        return r.json()

    async def count(self, table: Any) -> int:
        async with self.app.state.runtime.sessions() as s:
            return int(await s.scalar(select(func.count()).select_from(table)))

    async def events(self, event_type: str | None = None) -> list[dict[str, Any]]:
        async with self.app.state.runtime.sessions() as s:
            stmt = select(outbox.c.event_type, outbox.c.envelope, outbox.c.key).order_by(outbox.c.created_at)
            rows = (await s.execute(stmt)).all()
        out = [{"type": t, "key": k, **orjson.loads(e)} for t, e, k in rows]
        return [e for e in out if event_type is None or e["type"] == event_type]

    async def consume(self, data: EventData) -> None:
        """Apply a consumed event through the registered handler, in one transaction like the consumer."""
        handler = sales_main.spec().handlers[data.event_type]
        envelope = build_event(data, subject=getattr(data, "customer_id", None) or uuid.uuid4())
        async with unit_of_work(self.app.state.runtime.sessions) as s:
            await handler(s, envelope, data)

    async def rate(self, from_currency: str, to_currency: str, rate: str) -> None:
        """Billing's exchange_rate.set consumed: 1 from_currency = rate to_currency (§10.1)."""
        await self.consume(
            ExchangeRateSet(
                from_currency=from_currency,
                to_currency=to_currency,
                rate=Decimal(rate),
                set_by="finance",
                set_at=datetime.now(UTC),
            )
        )


def sales_settings(url: str, **overrides: Any) -> SalesSettings:
    # A win for a customer billing has not announced waits 0.5 s for it here (5 s by default).
    defaults: dict[str, Any] = {
        "kafka_enabled": False,
        "log_json": False,
        "jobs_enabled": False,
        "credit_position_wait_seconds": 0.5,
    }
    return SalesSettings(database_url=url, **{**defaults, **overrides})
