"""Reactions of billing to other services' facts."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from tessera_billing.credit.models import CreditProfile
from tessera_billing.settings import BillingSettings
from tessera_shared.events import CloudEvent
from tessera_shared.events.contracts import CustomerCreated


def customer_created_handler(settings: BillingSettings):  # noqa: ANN201 - returns a consumer handler
    async def on_customer_created(session: AsyncSession, event: CloudEvent, data: CustomerCreated) -> None:
        # The inbox already guarantees once-per-event; this guards a customer re-announced later.
        if await session.get(CreditProfile, data.customer_id) is not None:
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
