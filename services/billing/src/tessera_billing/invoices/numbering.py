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
    return (await reserve_invoice_numbers(session, year, 1))[0]


async def reserve_invoice_numbers(session: AsyncSession, year: int, count: int) -> list[str]:
    """The year's next ``count`` numbers, taken at once (the counter row stays locked until the
    transaction ends, so nobody else takes a number in between: ``give_back`` returns the unused
    last ones without a gap)."""
    bump = (
        update(_counters)
        .where(_counters.c.year == year)
        .values(last_number=_counters.c.last_number + count)
        .returning(_counters.c.last_number)
    )
    last = await session.scalar(bump)
    if last is None:
        try:
            async with session.begin_nested():
                await session.execute(insert(_counters).values(year=year, last_number=0))
        except IntegrityError:
            pass  # a concurrent issuer created the year's row first
        last = await session.scalar(bump)
    return [invoice_number(year, n) for n in range(int(last) - count + 1, int(last) + 1)]


async def give_back(session: AsyncSession, year: int, count: int) -> None:
    """Return the last ``count`` numbers this transaction reserved and did not use."""
    if count:
        await session.execute(
            update(_counters).where(_counters.c.year == year).values(last_number=_counters.c.last_number - count)
        )
