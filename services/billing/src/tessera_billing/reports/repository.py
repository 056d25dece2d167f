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
from sqlmodel import col

from tessera_billing.invoices.models import Invoice, InvoiceLine
from tessera_billing.ledger.models import LedgerEntry as L
from tessera_billing.ledger.models import ReceivableBalance as B
from tessera_billing.ledger.models import ReceivableTotal as T
from tessera_billing.loyalty.models import LoyaltyPayment
from tessera_billing.reports.rules import BUCKETS, bucket_thresholds
from tessera_shared.db import MoneySum

Row = dict[str, Any]
# A statement of any columns (Select is generic over the types of its columns).
AnySelect = Select[*tuple[Any, ...]]


def _bucket_columns(sums: MoneySum, as_of: date, due: Any, amount: Any) -> list[Any]:
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


def _entries_after(as_of: date, currency: str | None, *columns: Any) -> AnySelect:
    """Ledger entries dated after ``as_of``, amounts negated: the read model less these is the
    ledger up to ``as_of`` (none for today, as a rule, so this is an empty index range)."""
    stmt = select(*columns, (-col(L.amount)).label("amount")).where(col(L.entry_date) > as_of)
    return stmt if currency is None else stmt.where(col(L.currency) == currency)


async def aging_totals(
    session: AsyncSession, as_of: date, customer_id: uuid.UUID | None, currency: str | None
) -> list[Row]:
    sums = MoneySum(session)
    if customer_id is not None:
        # One customer's entries: an index range, as cheap as the read model and exact for any day.
        stmt = select(col(L.currency), *_bucket_columns(sums, as_of, col(L.due_date), col(L.amount))).where(
            col(L.entry_date) <= as_of, col(L.customer_id) == customer_id
        )
        if currency is not None:
            stmt = stmt.where(col(L.currency) == currency)
        rows = (await session.execute(stmt.group_by(col(L.currency)).order_by(col(L.currency)))).all()
        return [{"currency": r.currency, **_bucket_row(sums, r)} for r in rows]
    now = select(col(T.currency), col(T.due_date), col(T.amount), col(T.first_entry_date))
    if currency is not None:
        now = now.where(col(T.currency) == currency)
    later = _entries_after(as_of, currency, col(L.currency), col(L.due_date)).add_columns(cast(null(), Date()))
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
    parts: list[AnySelect]
    if customer_id is not None:
        own = select(col(L.customer_id), col(L.currency), col(L.due_date), col(L.amount)).where(
            col(L.entry_date) <= as_of, col(L.customer_id) == customer_id
        )
        if currency is not None:
            own = own.where(col(L.currency) == currency)
        parts = [own]
    else:
        now = select(col(B.customer_id), col(B.currency), col(B.due_date), col(B.amount))
        if currency is not None:
            now = now.where(col(B.currency) == currency)
        parts = [now, _entries_after(as_of, currency, col(L.customer_id), col(L.currency), col(L.due_date))]
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


def _after(stmt: AnySelect, after: tuple[uuid.UUID, str]) -> AnySelect:
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
    in_month = and_(col(L.entry_date) >= start, col(L.entry_date) < end)

    def moved(kind: str) -> Any:
        return sums.sum(case((and_(in_month, col(L.kind) == kind), col(L.amount)), else_=0)).label(kind)

    stmt = select(
        col(L.currency),
        sums.sum(case((col(L.entry_date) < start, col(L.amount)), else_=0)).label("opening"),
        moved("invoiced"),
        moved("collected"),
        moved("written_off"),
        moved("voided"),
        sums.sum(col(L.amount)).label("closing"),
    ).where(col(L.entry_date) < end)
    if currency is not None:
        stmt = stmt.where(col(L.currency) == currency)
    rows = (await session.execute(stmt.group_by(col(L.currency)).order_by(col(L.currency)))).all()
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
        col(L.currency),
        sums.sum(col(L.amount)).label("receivables"),
        sums.sum(case((and_(col(L.kind) == "invoiced", col(L.entry_date) > since), col(L.amount)), else_=0)).label(
            "sales"
        ),
    ).where(col(L.entry_date) <= as_of)
    if currency is not None:
        stmt = stmt.where(col(L.currency) == currency)
    rows = (await session.execute(stmt.group_by(col(L.currency)).order_by(col(L.currency)))).all()
    return [
        {"currency": r.currency, "receivables": sums.value(r.receivables), "sales": sums.value(r.sales)} for r in rows
    ]


async def statement_lines(
    session: AsyncSession, customer_id: uuid.UUID, currency: str, start: date, end: date, limit: int
) -> tuple[Decimal, list[Row]]:
    sums = MoneySum(session)
    opening = sums.value(
        await session.scalar(
            select(sums.sum(col(L.amount))).where(
                col(L.customer_id) == customer_id, col(L.currency) == currency, col(L.entry_date) < start
            )
        )
    )
    stmt = (
        select(
            col(L.entry_date),
            col(L.kind),
            col(L.amount),
            col(L.invoice_id),
            col(L.payment_id),
            col(L.reference),
            col(Invoice.number),
        )
        .join(Invoice, col(Invoice.id) == col(L.invoice_id))
        .where(
            col(L.customer_id) == customer_id,
            col(L.currency) == currency,
            col(L.entry_date) >= start,
            col(L.entry_date) <= end,
        )
        .order_by(col(L.entry_date), col(L.created_at), col(L.id))
        .limit(limit)
    )
    lines = [dict(r._mapping) for r in (await session.execute(stmt)).all()]
    await _with_loyalty(session, lines)
    return opening, lines


async def _with_loyalty(session: AsyncSession, lines: list[Row]) -> None:
    """Name the loyalty part of each line (docs/domain.md §10.5): on an ``invoiced`` line the member
    discount the invoice took off (the negative total of its discount lines), on a payment's line the
    points that paid it (a reversal's line too)."""
    invoice_ids = {r["invoice_id"] for r in lines if r["kind"] == "invoiced"}
    payment_ids = {r["payment_id"] for r in lines if r["payment_id"] is not None}
    discounts: dict[uuid.UUID, Decimal] = {}
    if invoice_ids:
        stmt = select(col(InvoiceLine.invoice_id), col(InvoiceLine.total)).where(
            col(InvoiceLine.invoice_id).in_(invoice_ids), col(InvoiceLine.member_discount_percent).is_not(None)
        )
        for invoice_id, total in await session.execute(stmt):  # summed here: Money is text on SQLite
            discounts[invoice_id] = discounts.get(invoice_id, Decimal(0)) - total
    points: dict[uuid.UUID, int] = {}
    if payment_ids:
        stmt2 = select(col(LoyaltyPayment.payment_id), col(LoyaltyPayment.points)).where(
            col(LoyaltyPayment.payment_id).in_(payment_ids)
        )
        points = {payment_id: n for payment_id, n in await session.execute(stmt2) if payment_id is not None}
    for r in lines:
        r["member_discount"] = discounts.get(r["invoice_id"]) if r["kind"] == "invoiced" else None
        r["loyalty_points"] = points.get(r["payment_id"]) if r["payment_id"] is not None else None
