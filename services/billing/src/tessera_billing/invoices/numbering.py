"""Gap-free invoice numbers per year.

The year's counter row is incremented with UPDATE ... RETURNING inside the issuing
transaction: the row lock serialises concurrent issuers, and a rollback gives the number back.
"""

from __future__ import annotations

from sqlalchemy import insert, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from tessera_billing.invoices.models import InvoiceCounter
from tessera_billing.invoices.rules import invoice_number
from tessera_shared.db import table_of

_counters = table_of(InvoiceCounter)


async def next_invoice_number(session: AsyncSession, year: int) -> str:
    bump = (
        update(_counters)
        .where(_counters.c.year == year)
        .values(last_number=_counters.c.last_number + 1)
        .returning(_counters.c.last_number)
    )
    sequence = await session.scalar(bump)
    if sequence is None:
        try:
            async with session.begin_nested():
                await session.execute(insert(_counters).values(year=year, last_number=0))
        except IntegrityError:
            pass  # a concurrent issuer created the year's row first
        sequence = await session.scalar(bump)
    return invoice_number(year, int(sequence))
