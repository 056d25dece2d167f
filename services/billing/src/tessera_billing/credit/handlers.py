"""Reactions of billing to other services' facts."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from tessera_billing.credit.models import CreditProfile
from tessera_billing.settings import BillingSettings
from tessera_shared.events import CloudEvent
from tessera_shared.events.contracts import CustomerCreated


def customer_created_handler(settings: BillingSettings):  # noqa: ANN201 - returns a consumer handler
    async def on_customer_created(session: AsyncSession, event: CloudEvent, data: CustomerCreated) -> None:
        profile = await session.get(CreditProfile, data.customer_id)
        if profile is not None:
            # A re-announcement, or a deal arrived first and made a default profile: only learn the name.
            if profile.customer_name is None:
                profile.customer_name = data.name
            return
        session.add(
            CreditProfile(
                customer_id=data.customer_id,
                customer_name=data.name,
                rating=settings.default_credit_rating,
                credit_limit=settings.default_credit_limit,
                currency=settings.default_currency,
                payment_terms_days=settings.default_payment_terms_days,
            )
        )

    return on_customer_created
