"""The operator's exchange-rate table: kept here, announced to sales (``exchange_rate.set``)."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from tessera_billing.rates.models import ExchangeRate
from tessera_shared.db import utcnow
from tessera_shared.errors import InvalidInput
from tessera_shared.events.contracts import ExchangeRateSet
from tessera_shared.outbox import publish


def pair_key(from_currency: str, to_currency: str) -> str:
    """Key and subject of a rate's events: one pair, one partition, one order."""
    return f"{from_currency}/{to_currency}"


async def list_rates(session: AsyncSession) -> list[ExchangeRate]:
    stmt = select(ExchangeRate).order_by(col(ExchangeRate.from_currency), col(ExchangeRate.to_currency))
    return list((await session.execute(stmt)).scalars())


async def find_rate(session: AsyncSession, from_currency: str, to_currency: str) -> ExchangeRate | None:
    return await session.get(ExchangeRate, (from_currency, to_currency))


async def set_rate(
    session: AsyncSession, from_currency: str, to_currency: str, rate: Decimal, set_by: str
) -> ExchangeRate:
    """Create or replace the rate of a pair and announce it."""
    if from_currency == to_currency:
        raise InvalidInput("to_currency", "a currency converts to itself at 1; name two different currencies", "path")
    row = await session.get(ExchangeRate, (from_currency, to_currency), with_for_update=True)
    now = utcnow()
    if row is None:
        row = ExchangeRate(from_currency=from_currency, to_currency=to_currency, rate=str(rate), set_by=set_by)
        row.set_at = now
        session.add(row)
    else:
        row.rate, row.set_by, row.set_at = str(rate), set_by, now
        row.version += 1
    await session.flush()
    key = pair_key(from_currency, to_currency)
    await publish(
        session,
        ExchangeRateSet(from_currency=from_currency, to_currency=to_currency, rate=rate, set_by=set_by, set_at=now),
        subject=key,
        key=key,
    )
    return row
