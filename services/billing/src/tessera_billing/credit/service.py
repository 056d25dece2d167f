"""Credit profiles and exposure (open receivables)."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from tessera_billing.credit.models import CreditProfile
from tessera_billing.invoices.models import Invoice
from tessera_billing.invoices.rules import OPEN_STATUSES
from tessera_billing.settings import BillingSettings
from tessera_shared.db import MoneySum, utcnow


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
