"""The credit-limit check of a win, on sales' copies of billing's facts (docs/domain.md §10.1)."""

from __future__ import annotations

import asyncio
import time
import uuid
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from tessera_sales.credit.models import CreditLine, DealCreditCheck, ExchangeRateCopy
from tessera_sales.deals.models import Deal
from tessera_shared.credit import LimitCheck, MissingRate, NoExchangeRate, check_limit
from tessera_shared.db import read_session, table_of, upsert, utcnow
from tessera_shared.errors import Conflict, Unavailable


class CreditPositionUnknown(Unavailable):
    """Billing has announced nothing about the customer's credit yet (503 ``credit-position-unknown``,
    ``Retry-After``): no win is decided on a limit sales does not know (docs/domain.md §10.1)."""

    slug = "credit-position-unknown"

    def __init__(self, customer_id: uuid.UUID) -> None:
        super().__init__(
            f"billing has not announced the credit limit of customer {customer_id} yet (credit.exposure_changed); "
            "retry shortly",
            retry_after=5,
            customer_id=str(customer_id),
        )


class CreditLimitExceeded(Conflict):
    """The win would take the customer past its credit limit (409 ``credit-limit-exceeded``)."""

    slug = "credit-limit-exceeded"

    def __init__(self, check: LimitCheck, deal_amount: Decimal, deal_currency: str) -> None:
        super().__init__(
            f"winning this deal takes exposure {check.exposure} + {check.amount} past the credit limit "
            f"{check.credit_limit} {check.currency}; a finance manager may override",
            limit=str(check.credit_limit),
            exposure=str(check.exposure),
            amount=str(check.amount),
            currency=check.currency,
            headroom=str(check.headroom),
            deal_amount=str(deal_amount),
            deal_currency=deal_currency,
            exchange_rate=None if check.exchange_rate is None else str(check.exchange_rate),
        )


# How often a win waiting for billing's first announcement looks at sales' copy again.
_POSITION_POLL = 0.05
_CHECKS = table_of(DealCreditCheck)


async def await_credit_position(sessions: async_sessionmaker[AsyncSession], deal_id: uuid.UUID, timeout: float) -> None:
    """Before a win's transaction: give billing's first announcement of the deal's customer (sent
    when billing makes the profile, a fraction of a second after ``customer.created``) up to
    ``timeout`` seconds to arrive, so that a client that creates a customer and wins its deal at
    once is answered on the real limit rather than with a 503. Holds no transaction or lock while
    it waits; an unknown deal, or a position still unknown at the end, is left to the win itself."""
    deadline = time.monotonic() + timeout
    while True:
        async with read_session(sessions) as session:
            row = (
                await session.execute(
                    select(col(Deal.customer_id), col(CreditLine.customer_id))
                    .outerjoin(CreditLine, col(CreditLine.customer_id) == col(Deal.customer_id))
                    .where(col(Deal.id) == deal_id)
                )
            ).first()
        if row is None or row[1] is not None or time.monotonic() >= deadline:
            return
        await asyncio.sleep(_POSITION_POLL)


async def limit_check(
    session: AsyncSession,
    *,
    customer_id: uuid.UUID,
    deal_id: uuid.UUID,
    amount: Decimal,
    currency: str,
) -> LimitCheck:
    """Exposure + the deal's amount against the limit, in the limit's currency.

    Exposure = billing's last announced open receivables (every currency converted) + the checked
    wins whose invoices billing has not announced yet. A customer billing announced nothing about
    yet (billing announces each profile as it makes it, so only for the moment the announcement
    travels) has no limit here: 503 ``credit-position-unknown`` with ``Retry-After``, override or
    not. The copy's row is locked: two wins for one customer are checked one after the other."""
    line = await session.get(CreditLine, customer_id, with_for_update=True)
    if line is None:
        raise CreditPositionUnknown(customer_id)
    pending = await session.execute(
        select(col(DealCreditCheck.amount)).where(
            col(DealCreditCheck.customer_id) == customer_id,
            col(DealCreditCheck.deal_id) != deal_id,
            col(DealCreditCheck.currency) == line.currency,
            col(DealCreditCheck.invoiced).is_(False),
        )
    )
    return await check_with(session, line, [a for (a,) in pending], amount=amount, currency=currency)


async def check_with(
    session: AsyncSession, line: CreditLine, pending: list[Decimal], *, amount: Decimal, currency: str
) -> LimitCheck:
    """``limit_check`` on a credit line already read (and locked) and the customer's ``pending``
    checked wins in the limit's currency; reads exchange rates only when something converts."""
    limit_currency = line.currency
    balances = [(b["currency"], Decimal(b["amount"])) for b in line.open_balances]
    balances += [(limit_currency, a) for a in pending]
    rates: dict[tuple[str, str], Decimal] = {}
    if currency != limit_currency or any(c != limit_currency for c, _ in balances):  # else nothing converts
        rows = await session.execute(
            select(ExchangeRateCopy).where(col(ExchangeRateCopy.to_currency) == limit_currency)
        )
        rates = {(r.from_currency, r.to_currency): Decimal(r.rate) for r in rows.scalars()}
    try:
        return check_limit(
            credit_limit=line.credit_limit,
            currency=limit_currency,
            balances=balances,
            amount=amount,
            amount_currency=currency,
            rates=rates,
        )
    except MissingRate as missing:
        raise NoExchangeRate(missing) from None


async def record_check(
    session: AsyncSession, deal_id: uuid.UUID, customer_id: uuid.UUID, check: LimitCheck, override_by: str | None
) -> None:
    """Keep the decision with the deal (a re-win replaces the earlier one; whether billing has
    invoiced the deal stays as it was): one INSERT ... ON CONFLICT."""
    await session.execute(check_upsert(session, deal_id, customer_id, check, override_by))


def check_upsert(
    session: AsyncSession, deal_id: uuid.UUID, customer_id: uuid.UUID, check: LimitCheck, override_by: str | None
) -> Any:
    """``record_check``'s statement, not run (a win on PostgreSQL runs it with its other writes)."""
    figures = {
        "customer_id": customer_id,
        "credit_limit": check.credit_limit,
        "exposure": check.exposure,
        "amount": check.amount,
        "currency": check.currency,
        "exchange_rate": None if check.exchange_rate is None else str(check.exchange_rate),
        "fits": check.fits,
        "override_by": override_by,
        "checked_at": utcnow(),
    }
    stmt = upsert(session, _CHECKS).values(deal_id=deal_id, invoiced=False, **figures)
    return stmt.on_conflict_do_update(index_elements=["deal_id"], set_=figures)
