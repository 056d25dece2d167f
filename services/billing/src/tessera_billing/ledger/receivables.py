"""The receivable read model: the ledger summed per customer, currency and due date
(``receivable_balances``) and per currency and due date (``receivable_totals``).

Written in the same transaction as each ledger entry, so that it always equals the ledger's sums.
Lock order, to stay free of deadlocks on PostgreSQL: balances before totals, and a change of
several rows of one table takes them in key order (``lock_for``); SQLite has one writer at a time.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import Table, and_, delete, func, insert, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from tessera_billing.invoices.models import Invoice
from tessera_billing.ledger.models import ReceivableBalance, ReceivableTotal
from tessera_shared.db import dialect_name, table_of

BALANCES = table_of(ReceivableBalance)
TOTALS = table_of(ReceivableTotal)


async def move(
    session: AsyncSession, customer_id: uuid.UUID, currency: str, due: date, amount: Decimal, on: date
) -> None:
    """Add one ledger movement (signed ``amount``, dated ``on``) to both tables."""
    if amount != 0:
        await _add(session, BALANCES, {"customer_id": customer_id, "currency": currency, "due_date": due}, amount)
    # Even a zero movement is an entry: it makes its currency appear in ageing from ``on``.
    await _add(session, TOTALS, {"currency": currency, "due_date": due}, amount, first=on)


Movement = tuple[uuid.UUID, str, date, Decimal, date]
"""(customer, currency, due date, signed amount, the day it happened), as ``move`` takes them."""


async def move_many(session: AsyncSession, movements: Iterable[Movement]) -> None:
    """``move`` for many movements: summed per row first, then the rows changed in key order,
    balances before totals (the lock order above); on PostgreSQL one statement per table."""
    balances: dict[tuple[uuid.UUID, str, date], Decimal] = {}
    totals: dict[tuple[str, date], tuple[Decimal, date]] = {}
    for customer_id, currency, due, amount, on in movements:
        if amount != 0:
            balances[(customer_id, currency, due)] = balances.get((customer_id, currency, due), Decimal(0)) + amount
        summed, first = totals.get((currency, due), (Decimal(0), on))
        totals[(currency, due)] = (summed + amount, min(first, on))
    balance_rows = [
        {"customer_id": c, "currency": cur, "due_date": due, "amount": a}
        for (c, cur, due), a in sorted(balances.items())
        if a != 0
    ]
    total_rows = [
        {"currency": cur, "due_date": due, "amount": a, "first_entry_date": first}
        for (cur, due), (a, first) in sorted(totals.items())
    ]
    if dialect_name(session) != "postgresql":
        for (c, cur, due), a in sorted(balances.items()):
            if a != 0:
                await _add(session, BALANCES, {"customer_id": c, "currency": cur, "due_date": due}, a)
        for (cur, due), (a, first) in sorted(totals.items()):
            await _add(session, TOTALS, {"currency": cur, "due_date": due}, a, first=first)
        return
    if balance_rows:
        stmt = pg_insert(BALANCES).values(balance_rows)
        b = BALANCES.c
        upserted = stmt.on_conflict_do_update(
            index_elements=["customer_id", "currency", "due_date"], set_={"amount": b.amount + stmt.excluded.amount}
        ).returning(b.customer_id, b.currency, b.due_date, b.amount)
        zero = [(r.customer_id, r.currency, r.due_date) for r in await session.execute(upserted) if r.amount == 0]
        if zero:  # balances at zero are removed, as ``_add`` does
            await session.execute(delete(BALANCES).where(tuple_(b.customer_id, b.currency, b.due_date).in_(zero)))
    if total_rows:
        stmt = pg_insert(TOTALS).values(total_rows)
        t = TOTALS.c
        await session.execute(
            stmt.on_conflict_do_update(
                index_elements=["currency", "due_date"],
                set_={
                    "amount": t.amount + stmt.excluded.amount,
                    "first_entry_date": func.least(t.first_entry_date, stmt.excluded.first_entry_date),
                },
            )
        )


async def lock_for(session: AsyncSession, invoices: Iterable[Invoice]) -> None:
    """Lock the rows that movements on ``invoices`` will change, in key order (before changing them)."""
    if dialect_name(session) != "postgresql":
        return
    balances = sorted({(i.customer_id, i.currency, i.due_date) for i in invoices})
    totals = sorted({(currency, due) for _, currency, due in balances})
    if len(totals) < 2 and len(balances) < 2:
        return
    b, t = BALANCES.c, TOTALS.c
    await session.execute(
        select(b.customer_id)
        .where(tuple_(b.customer_id, b.currency, b.due_date).in_(balances))
        .order_by(b.customer_id, b.currency, b.due_date)
        .with_for_update()
    )
    await session.execute(
        select(t.currency)
        .where(tuple_(t.currency, t.due_date).in_(totals))
        .order_by(t.currency, t.due_date)
        .with_for_update()
    )


async def rekey(session: AsyncSession, merged_id: uuid.UUID, survivor_id: uuid.UUID) -> None:
    """customer.merged: the merged customer's balances are added to the survivor's (totals do not change)."""
    b = BALANCES.c
    rows = (
        await session.execute(
            select(b.currency, b.due_date, b.amount)
            .where(b.customer_id == merged_id)
            .order_by(b.currency, b.due_date)
            .with_for_update()
        )
    ).all()
    await session.execute(delete(BALANCES).where(b.customer_id == merged_id))
    for row in rows:
        await _add(
            session,
            BALANCES,
            {"customer_id": survivor_id, "currency": row.currency, "due_date": row.due_date},
            row.amount,
        )


async def _add(
    session: AsyncSession, table: Table, key: dict[str, Any], amount: Decimal, first: date | None = None
) -> None:
    """Add ``amount`` to the row at ``key``; balances at zero are removed, totals keep their row."""
    if dialect_name(session) == "postgresql":
        new = await _add_pg(session, table, key, amount, first)
    else:
        new = await _add_sqlite(session, table, key, amount, first)
    if new == 0 and table is BALANCES:
        await session.execute(delete(table).where(_at(table, key)))


async def _add_pg(
    session: AsyncSession, table: Table, key: dict[str, Any], amount: Decimal, first: date | None
) -> Decimal:
    values = {**key, "amount": amount} | ({"first_entry_date": first} if first else {})
    stmt = pg_insert(table).values(**values)
    changes = {"amount": table.c.amount + stmt.excluded.amount}
    if first:
        changes["first_entry_date"] = func.least(table.c.first_entry_date, stmt.excluded.first_entry_date)
    upserted = stmt.on_conflict_do_update(index_elements=list(key), set_=changes).returning(table.c.amount)
    return (await session.execute(upserted)).scalar_one()


async def _add_sqlite(
    session: AsyncSession, table: Table, key: dict[str, Any], amount: Decimal, first: date | None
) -> Decimal:
    # Money is text on SQLite: add in Python (the write lock is held: BEGIN IMMEDIATE).
    columns = [table.c.amount] + ([table.c.first_entry_date] if first else [])
    row = (await session.execute(select(*columns).where(_at(table, key)))).first()
    if row is None:
        values = {**key, "amount": amount} | ({"first_entry_date": first} if first else {})
        await session.execute(insert(table).values(**values))
        return amount
    changes: dict[str, Any] = {"amount": row.amount + amount}
    if first:
        changes["first_entry_date"] = min(row.first_entry_date, first)
    await session.execute(update(table).where(_at(table, key)).values(**changes))
    return changes["amount"]


def _at(table: Table, key: dict[str, Any]) -> Any:
    return and_(*(table.c[name] == value for name, value in key.items()))
