"""The reads behind the receivables summary (one customer, inside the caller's snapshot)."""

from __future__ import annotations

import uuid
from decimal import Decimal

from sqlalchemy import case, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from tessera_billing.invoices.models import Invoice
from tessera_billing.invoices.rules import OPEN_STATUSES, InvoiceStatus
from tessera_shared.db import MoneySum


async def open_invoices(session: AsyncSession, customer_id: uuid.UUID, limit: int) -> list[Invoice]:
    """The customer's open invoices in id order, at most ``limit``."""
    stmt = (
        select(Invoice)
        .where(col(Invoice.customer_id) == customer_id)
        .where(col(Invoice.status).in_([s.value for s in OPEN_STATUSES]))
        .order_by(col(Invoice.id))
        .limit(limit)
    )
    return list((await session.execute(stmt)).scalars())


async def recent_invoices(session: AsyncSession, customer_id: uuid.UUID, limit: int) -> list[Invoice]:
    """The customer's latest invoices (any status), newest issue date first."""
    stmt = (
        select(Invoice)
        .where(col(Invoice.customer_id) == customer_id)
        .order_by(col(Invoice.issue_date).desc(), col(Invoice.id).desc())
        .limit(limit)
    )
    return list((await session.execute(stmt)).scalars())


async def open_sums(session: AsyncSession, customer_id: uuid.UUID) -> tuple[dict[str, Decimal], dict[str, Decimal]]:
    sums = MoneySum(session)
    overdue = case((col(Invoice.status) == InvoiceStatus.OVERDUE.value, col(Invoice.balance_due)), else_=0)
    rows = (
        await session.execute(
            select(
                col(Invoice.currency),
                sums.sum(col(Invoice.balance_due)).label("open"),
                sums.sum(overdue).label("overdue"),
            )
            .where(col(Invoice.customer_id) == customer_id, col(Invoice.status).in_([s.value for s in OPEN_STATUSES]))
            .group_by(col(Invoice.currency))
            .order_by(col(Invoice.currency))
        )
    ).all()
    return {r.currency: sums.value(r.open) for r in rows}, {r.currency: sums.value(r.overdue) for r in rows}
