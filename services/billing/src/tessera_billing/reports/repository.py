"""Report queries: aggregates over the receivable ledger, computed by the database.

Ageing over all customers reads the read model (``ledger/receivables.py``: the ledger summed per
due date) less the entries dated after ``as_of``: exact for any day, and for today it reads open
items only. Roll-forward, DSO and statements are sums over date ranges of the ledger itself.
"""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import Date, Select, and_, case, cast, func, literal, null, select, tuple_, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from tessera_billing.invoices.models import Invoice
from tessera_billing.ledger.models import LedgerEntry as L
from tessera_billing.ledger.models import ReceivableBalance as B
from tessera_billing.ledger.models import ReceivableTotal as T
from tessera_billing.reports.rules import BUCKETS, bucket_thresholds
from tessera_shared.db import MoneySum

Row = dict[str, Any]


def _bucket_columns(sums: MoneySum, as_of: date, due: Any = L.due_date, amount: Any = L.amount) -> list[Any]:
    t = bucket_thresholds(as_of)
    conditions = [
        due >= t[0],
        and_(due < t[0], due >= t[1]),
        and_(due < t[1], due >= t[2]),
        and_(due < t[2], due >= t[3]),
        due < t[3],
    ]
    return [sums.sum(case((c, amount), else_=0)).label(name) for c, name in zip(conditions, BUCKETS, strict=True)]


def _bucket_row(sums: MoneySum, row: Any) -> Row:
    out = {name: sums.value(getattr(row, name)) for name in BUCKETS}
    out["total"] = sum(out.values(), Decimal(0))
    return out


def _entries_after(as_of: date, currency: str | None, *columns: Any) -> Select[Any]:
    """Ledger entries dated after ``as_of``, amounts negated: the read model less these is the
    ledger up to ``as_of`` (none for today, as a rule, so this is an empty index range)."""
    stmt = select(*columns, (-L.amount).label("amount")).where(L.entry_date > as_of)
    return stmt if currency is None else stmt.where(L.currency == currency)


async def aging_totals(
    session: AsyncSession, as_of: date, customer_id: uuid.UUID | None, currency: str | None
) -> list[Row]:
    sums = MoneySum(session)
    if customer_id is not None:
        # One customer's entries: an index range, as cheap as the read model and exact for any day.
        stmt = select(L.currency, *_bucket_columns(sums, as_of)).where(
            L.entry_date <= as_of, L.customer_id == customer_id
        )
        if currency is not None:
            stmt = stmt.where(L.currency == currency)
        rows = (await session.execute(stmt.group_by(L.currency).order_by(L.currency))).all()
        return [{"currency": r.currency, **_bucket_row(sums, r)} for r in rows]
    now = select(T.currency, T.due_date, T.amount, T.first_entry_date)
    if currency is not None:
        now = now.where(T.currency == currency)
    later = _entries_after(as_of, currency, L.currency, L.due_date).add_columns(cast(null(), Date()))
    src = union_all(now, later).subquery()
    stmt = (
        select(src.c.currency, *_bucket_columns(sums, as_of, src.c.due_date, src.c.amount))
        .group_by(src.c.currency)
        # A currency shows from its first entry on, as a sum over the ledger would show it.
        .having(func.min(src.c.first_entry_date) <= as_of)
        .order_by(src.c.currency)
    )
    rows = (await session.execute(stmt)).all()
    return [{"currency": r.currency, **_bucket_row(sums, r)} for r in rows]


async def aging_by_customer(
    session: AsyncSession,
    as_of: date,
    customer_id: uuid.UUID | None,
    currency: str | None,
    limit: int,
    after: tuple[uuid.UUID, str] | None,
) -> list[Row]:
    sums = MoneySum(session)
    if customer_id is not None:
        src = select(L.customer_id, L.currency, L.due_date, L.amount).where(
            L.entry_date <= as_of, L.customer_id == customer_id
        )
        if currency is not None:
            src = src.where(L.currency == currency)
        parts = [src]
    else:
        now = select(B.customer_id, B.currency, B.due_date, B.amount)
        if currency is not None:
            now = now.where(B.currency == currency)
        parts = [now, _entries_after(as_of, currency, L.customer_id, L.currency, L.due_date)]
    if after is not None:
        parts = [_after(p, after) for p in parts]
    # Spelled as statements: mypy (1.20, 2.4) crashes joining CompoundSelect with Select here.
    src = union_all(*parts).subquery() if len(parts) > 1 else parts[0].subquery()
    stmt = (
        select(src.c.customer_id, src.c.currency, *_bucket_columns(sums, as_of, src.c.due_date, src.c.amount))
        .group_by(src.c.customer_id, src.c.currency)
        .having(sums.sum(src.c.amount) != 0)
        .order_by(src.c.customer_id, src.c.currency)
        .limit(limit)
    )
    rows = (await session.execute(stmt)).all()
    return [{"customer_id": r.customer_id, "currency": r.currency, **_bucket_row(sums, r)} for r in rows]


def _after(stmt: Select[Any], after: tuple[uuid.UUID, str]) -> Select[Any]:
    """Keyset bound on (customer_id, currency), whichever table ``stmt`` reads."""
    customer, currency = stmt.selected_columns.customer_id, stmt.selected_columns.currency
    # The redundant bound on the leading column keeps the page an index range scan.
    return stmt.where(
        customer >= after[0],
        tuple_(customer, currency) > tuple_(literal(after[0], customer.type), literal(after[1], currency.type)),
    )


async def rollforward(session: AsyncSession, start: date, end: date, currency: str | None) -> list[Row]:
    """Per currency: opening before ``start``; movements in [start, end); closing before ``end``."""
    sums = MoneySum(session)
    in_month = and_(L.entry_date >= start, L.entry_date < end)

    def moved(kind: str) -> Any:
        return sums.sum(case((and_(in_month, L.kind == kind), L.amount), else_=0)).label(kind)

    stmt = select(
        L.currency,
        sums.sum(case((L.entry_date < start, L.amount), else_=0)).label("opening"),
        moved("invoiced"),
        moved("collected"),
        moved("written_off"),
        moved("voided"),
        sums.sum(L.amount).label("closing"),
    ).where(L.entry_date < end)
    if currency is not None:
        stmt = stmt.where(L.currency == currency)
    rows = (await session.execute(stmt.group_by(L.currency).order_by(L.currency))).all()
    return [
        {
            "currency": r.currency,
            "opening": sums.value(r.opening),
            "invoiced": sums.value(r.invoiced),
            # Stored as reductions of the receivable; shown as positive amounts.
            "collected": -sums.value(r.collected),
            "written_off": -sums.value(r.written_off),
            "voided": -sums.value(r.voided),
            "closing": sums.value(r.closing),
        }
        for r in rows
    ]


async def receivables_and_sales(session: AsyncSession, as_of: date, since: date, currency: str | None) -> list[Row]:
    sums = MoneySum(session)
    stmt = select(
        L.currency,
        sums.sum(L.amount).label("receivables"),
        sums.sum(case((and_(L.kind == "invoiced", L.entry_date > since), L.amount), else_=0)).label("sales"),
    ).where(L.entry_date <= as_of)
    if currency is not None:
        stmt = stmt.where(L.currency == currency)
    rows = (await session.execute(stmt.group_by(L.currency).order_by(L.currency))).all()
    return [
        {"currency": r.currency, "receivables": sums.value(r.receivables), "sales": sums.value(r.sales)} for r in rows
    ]


async def statement_lines(
    session: AsyncSession, customer_id: uuid.UUID, currency: str, start: date, end: date, limit: int
) -> tuple[Decimal, list[Row]]:
    sums = MoneySum(session)
    opening = sums.value(
        await session.scalar(
            select(sums.sum(L.amount)).where(L.customer_id == customer_id, L.currency == currency, L.entry_date < start)
        )
    )
    stmt = (
        select(L.entry_date, L.kind, L.amount, L.invoice_id, L.payment_id, L.reference, Invoice.number)
        .join(Invoice, Invoice.id == L.invoice_id)
        .where(L.customer_id == customer_id, L.currency == currency, L.entry_date >= start, L.entry_date <= end)
        .order_by(L.entry_date, L.created_at, L.id)
        .limit(limit)
    )
    lines = [dict(r._mapping) for r in (await session.execute(stmt)).all()]
    return opening, lines
