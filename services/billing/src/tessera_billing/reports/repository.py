"""Report queries: aggregates over the receivable ledger, computed by the database."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, case, literal, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from tessera_billing.invoices.models import Invoice
from tessera_billing.ledger.models import LedgerEntry as L
from tessera_billing.reports.rules import BUCKETS, bucket_thresholds
from tessera_shared.db import MoneySum

Row = dict[str, Any]


def _bucket_columns(sums: MoneySum, as_of: date) -> list[Any]:
    t = bucket_thresholds(as_of)
    conditions = [
        L.due_date >= t[0],
        and_(L.due_date < t[0], L.due_date >= t[1]),
        and_(L.due_date < t[1], L.due_date >= t[2]),
        and_(L.due_date < t[2], L.due_date >= t[3]),
        L.due_date < t[3],
    ]
    return [sums.sum(case((c, L.amount), else_=0)).label(name) for c, name in zip(conditions, BUCKETS, strict=True)]


def _bucket_row(sums: MoneySum, row: Any) -> Row:
    out = {name: sums.value(getattr(row, name)) for name in BUCKETS}
    out["total"] = sum(out.values(), Decimal(0))
    return out


async def aging_totals(session: AsyncSession, as_of: date, customer_id: uuid.UUID | None,
                       currency: str | None) -> list[Row]:
    sums = MoneySum(session)
    stmt = select(L.currency, *_bucket_columns(sums, as_of)).where(L.entry_date <= as_of)
    if customer_id is not None:
        stmt = stmt.where(L.customer_id == customer_id)
    if currency is not None:
        stmt = stmt.where(L.currency == currency)
    rows = (await session.execute(stmt.group_by(L.currency).order_by(L.currency))).all()
    return [{"currency": r.currency, **_bucket_row(sums, r)} for r in rows]


async def aging_by_customer(session: AsyncSession, as_of: date, customer_id: uuid.UUID | None,
                            currency: str | None, limit: int, after: tuple[uuid.UUID, str] | None) -> list[Row]:
    sums = MoneySum(session)
    stmt = select(L.customer_id, L.currency, *_bucket_columns(sums, as_of)).where(L.entry_date <= as_of)
    if customer_id is not None:
        stmt = stmt.where(L.customer_id == customer_id)
    if currency is not None:
        stmt = stmt.where(L.currency == currency)
    if after is not None:
        stmt = stmt.where(tuple_(L.customer_id, L.currency)
                         > tuple_(literal(after[0], L.customer_id.type), literal(after[1], L.currency.type)))
    stmt = (stmt.group_by(L.customer_id, L.currency).having(sums.sum(L.amount) != 0)
            .order_by(L.customer_id, L.currency).limit(limit))
    rows = (await session.execute(stmt)).all()
    return [{"customer_id": r.customer_id, "currency": r.currency, **_bucket_row(sums, r)} for r in rows]


async def rollforward(session: AsyncSession, start: date, end: date, currency: str | None) -> list[Row]:
    """Per currency: opening before ``start``; movements in [start, end); closing before ``end``."""
    sums = MoneySum(session)
    in_month = and_(L.entry_date >= start, L.entry_date < end)

    def moved(kind: str) -> Any:
        return sums.sum(case((and_(in_month, L.kind == kind), L.amount), else_=0)).label(kind)

    stmt = select(
        L.currency,
        sums.sum(case((L.entry_date < start, L.amount), else_=0)).label("opening"),
        moved("invoiced"), moved("collected"), moved("written_off"), moved("voided"),
        sums.sum(L.amount).label("closing"),
    ).where(L.entry_date < end)
    if currency is not None:
        stmt = stmt.where(L.currency == currency)
    rows = (await session.execute(stmt.group_by(L.currency).order_by(L.currency))).all()
    return [{
        "currency": r.currency, "opening": sums.value(r.opening), "invoiced": sums.value(r.invoiced),
        # Stored as reductions of the receivable; shown as positive amounts.
        "collected": -sums.value(r.collected), "written_off": -sums.value(r.written_off),
        "voided": -sums.value(r.voided), "closing": sums.value(r.closing),
    } for r in rows]


async def receivables_and_sales(session: AsyncSession, as_of: date, since: date, currency: str | None) -> list[Row]:
    sums = MoneySum(session)
    stmt = select(
        L.currency, sums.sum(L.amount).label("receivables"),
        sums.sum(case((and_(L.kind == "invoiced", L.entry_date > since), L.amount), else_=0)).label("sales"),
    ).where(L.entry_date <= as_of)
    if currency is not None:
        stmt = stmt.where(L.currency == currency)
    rows = (await session.execute(stmt.group_by(L.currency).order_by(L.currency))).all()
    return [{"currency": r.currency, "receivables": sums.value(r.receivables), "sales": sums.value(r.sales)}
            for r in rows]


async def statement_lines(session: AsyncSession, customer_id: uuid.UUID, currency: str, start: date, end: date,
                          limit: int) -> tuple[Decimal, list[Row]]:
    sums = MoneySum(session)
    opening = sums.value(await session.scalar(
        select(sums.sum(L.amount)).where(L.customer_id == customer_id, L.currency == currency, L.entry_date < start)
    ))
    stmt = (
        select(L.entry_date, L.kind, L.amount, L.invoice_id, L.payment_id, L.reference, Invoice.number)
        .join(Invoice, Invoice.id == L.invoice_id)
        .where(L.customer_id == customer_id, L.currency == currency, L.entry_date >= start, L.entry_date <= end)
        .order_by(L.entry_date, L.created_at, L.id).limit(limit)
    )
    lines = [dict(r._mapping) for r in (await session.execute(stmt)).all()]
    return opening, lines
