"""Credit profiles and exposure (open receivables)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from tessera_billing.credit.models import CreditProfile
from tessera_billing.invoices.models import Invoice
from tessera_billing.invoices.rules import OPEN_STATUSES
from tessera_billing.money import quantize
from tessera_billing.rates.models import ExchangeRate
from tessera_billing.settings import BillingSettings
from tessera_shared.credit import LimitCheck, MissingRate, NoExchangeRate, check_limit
from tessera_shared.db import MoneySum, utcnow
from tessera_shared.events.contracts import CreditExposureChanged, OpenBalance
from tessera_shared.events.contracts.billing import ExposureReason, Rating
from tessera_shared.outbox import publish


async def get_or_create_profile(
    session: AsyncSession, customer_id: uuid.UUID, settings: BillingSettings, name: str | None = None
) -> CreditProfile:
    """The profile; a customer first seen through a deal gets the default one (topics are not ordered)."""
    profile = await session.get(CreditProfile, customer_id)
    if profile is None:
        profile = CreditProfile(
            customer_id=customer_id,
            customer_name=name,
            rating=settings.default_credit_rating,
            credit_limit=settings.default_credit_limit,
            currency=settings.default_currency,
            payment_terms_days=settings.default_payment_terms_days,
        )
        session.add(profile)
        await session.flush()
        await announce_exposure(session, customer_id, "profile_created")
    return profile


async def exposure(session: AsyncSession, customer_id: uuid.UUID, currency: str) -> Decimal:
    sums = MoneySum(session)
    total = await session.scalar(
        select(sums.sum(col(Invoice.balance_due))).where(
            col(Invoice.customer_id) == customer_id,
            col(Invoice.currency) == currency,
            col(Invoice.status).in_([s.value for s in OPEN_STATUSES]),
        )
    )
    return sums.value(total)


async def open_balances(session: AsyncSession, customer_id: uuid.UUID) -> dict[str, Decimal]:
    """The customer's open receivables (issued, partially paid, overdue) per currency."""
    return (await open_balances_of(session, [customer_id])).get(customer_id, {})


async def open_balances_of(
    session: AsyncSession, customer_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, dict[str, Decimal]]:
    """Open receivables per currency of several customers, in one statement."""
    sums = MoneySum(session)
    rows = await session.execute(
        select(col(Invoice.customer_id), col(Invoice.currency), sums.sum(col(Invoice.balance_due)))
        .where(
            col(Invoice.customer_id).in_(list(customer_ids)),
            col(Invoice.status).in_([s.value for s in OPEN_STATUSES]),
        )
        .group_by(col(Invoice.customer_id), col(Invoice.currency))
        .order_by(col(Invoice.customer_id), col(Invoice.currency))
    )
    found: dict[uuid.UUID, dict[str, Decimal]] = {}
    for customer_id, currency, total in rows:
        found.setdefault(customer_id, {})[currency] = sums.value(total)
    return found


def exposure_changed(
    profile: CreditProfile,
    balances: dict[str, Decimal],
    reason: ExposureReason,
    *,
    deal_id: uuid.UUID | None = None,
) -> CreditExposureChanged:
    """``credit.exposure_changed`` for ``profile`` with its open ``balances`` per currency."""
    quantized = {c: quantize(a, c) for c, a in sorted(balances.items())}
    return CreditExposureChanged(
        customer_id=profile.customer_id,
        credit_limit=quantize(profile.credit_limit, profile.currency),
        currency=profile.currency,
        rating=cast(Rating, profile.rating),  # one of RATINGS: the API and the merge keep it so
        exposure=quantized.get(profile.currency, quantize(Decimal(0), profile.currency)),
        open_balances=[OpenBalance(currency=c, amount=a) for c, a in quantized.items() if a != 0],
        reason=reason,
        deal_id=deal_id,
        changed_at=utcnow(),
    )


async def announce_exposure(
    session: AsyncSession, customer_id: uuid.UUID, reason: ExposureReason, *, deal_id: uuid.UUID | None = None
) -> None:
    """Publish the customer's limit and open receivables as they are now (``credit.exposure_changed``),
    so that sales checks wins against them (docs/domain.md §10.1).

    The profile row is locked first: two transactions changing one customer's receivables announce
    one after the other, each with what the other committed, in the order sales applies them."""
    profile = await session.get(CreditProfile, customer_id, with_for_update=True)
    if profile is None:  # money for a customer no invoice or deal made known: no limit to announce
        return
    balances = await open_balances(session, customer_id)
    await publish(session, exposure_changed(profile, balances, reason, deal_id=deal_id), subject=customer_id)


async def find_profile(
    session: AsyncSession, customer_id: uuid.UUID, *, for_update: bool = False
) -> CreditProfile | None:
    if for_update:
        return await session.get(CreditProfile, customer_id, with_for_update=True)
    return await session.get(CreditProfile, customer_id)


async def update_profile(session: AsyncSession, profile: CreditProfile, changes: dict[str, Any]) -> None:
    """Apply the (validated, non-empty) changes; a new version."""
    for key, value in changes.items():
        setattr(profile, key, value)
    profile.updated_at = utcnow()
    profile.version += 1
    await session.flush()
    await announce_exposure(session, profile.customer_id, "profile_changed")


async def check_amount(session: AsyncSession, profile: CreditProfile, amount: Decimal, currency: str) -> LimitCheck:
    """Does ``amount`` in ``currency`` fit under the profile's limit, by the rule of the win
    (``tessera_shared.credit.check_limit``, docs/domain.md §10.1): the open receivables in every
    currency and the amount, each converted into the limit's currency with the rate table; a
    currency no rate converts → 409 ``no-exchange-rate``."""
    balances = await open_balances(session, profile.customer_id)
    stmt = select(ExchangeRate).where(col(ExchangeRate.to_currency) == profile.currency)
    rates = {(r.from_currency, r.to_currency): Decimal(r.rate) for r in (await session.execute(stmt)).scalars()}
    try:
        return check_limit(
            credit_limit=profile.credit_limit,
            currency=profile.currency,
            balances=list(balances.items()),
            amount=amount,
            amount_currency=currency,
            rates=rates,
        )
    except MissingRate as missing:
        raise NoExchangeRate(missing) from None
