"""Collections: billing's overdue and dunning facts become a task for the account's owner, once each."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from tessera_sales.activities import rules
from tessera_sales.activities.models import Activity
from tessera_sales.activities.service import record
from tessera_sales.credit.models import OverdueInvoice
from tessera_sales.deals.models import Deal
from tessera_sales.known_customers.models import KnownCustomer
from tessera_shared.events import CloudEvent
from tessera_shared.events.contracts import DunningStep, InvoiceOverdue

SYSTEM = "system:collections"


async def _owner_of(session: AsyncSession, customer_id: uuid.UUID, deal_id: uuid.UUID | None) -> str | None:
    """The deal's owner when the invoice came from a deal, else the customer's owner."""
    if deal_id is not None:
        owner = await session.scalar(select(col(Deal.owner_id)).where(col(Deal.id) == deal_id))
        if owner:
            return owner
    known = await session.get(KnownCustomer, customer_id)
    return known.owner_id if known else None


async def _collection_task(
    session: AsyncSession, *, key: str, customer_id: uuid.UUID, deal_id: uuid.UUID | None, subject: str, at: datetime
) -> None:
    if await session.scalar(select(col(Activity.id)).where(col(Activity.origin_key) == key)) is not None:
        return  # this invoice's step already has its task
    await record(
        session,
        Activity(
            kind="task",
            subject=subject,
            customer_id=customer_id,
            deal_id=deal_id,
            owner_id=await _owner_of(session, customer_id, deal_id),
            occurred_at=at,
            due_at=at + rules.COLLECTION_TASK_DUE_IN,
            remind_at=at,
            origin_key=key,
            created_by=SYSTEM,
        ),
    )


def _money(amount: Decimal, currency: str) -> str:
    return f"{amount} {currency}"


async def on_invoice_overdue(session: AsyncSession, event: CloudEvent, data: InvoiceOverdue) -> None:
    await _collection_task(
        session,
        key=rules.collection_key(data.invoice_id, None),
        customer_id=data.customer_id,
        deal_id=data.deal_id,
        subject=f"Collect invoice {data.number}: {_money(data.amount_due, data.currency)} overdue "
        f"{data.days_overdue} days",
        at=data.detected_at,
    )


async def on_dunning_step(session: AsyncSession, event: CloudEvent, data: DunningStep) -> None:
    # dunning.step names no deal; the overdue notice before it did.
    deal_id = await session.scalar(
        select(col(OverdueInvoice.deal_id)).where(col(OverdueInvoice.invoice_id) == data.invoice_id)
    )
    await _collection_task(
        session,
        key=rules.collection_key(data.invoice_id, data.step),
        customer_id=data.customer_id,
        deal_id=deal_id,
        subject=f"Dunning step {data.step} ({data.action}) for invoice {data.number}: "
        f"{_money(data.amount_due, data.currency)}, {data.days_overdue} days overdue",
        at=data.occurred_at,
    )
