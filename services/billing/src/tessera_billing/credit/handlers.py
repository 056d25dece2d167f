"""Reactions of billing to other services' facts."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from tessera_billing.credit.models import CreditProfile
from tessera_billing.settings import BillingSettings
from tessera_shared.consumer import Batched
from tessera_shared.db import table_of, upsert, utcnow
from tessera_shared.events import CloudEvent
from tessera_shared.events.contracts import CustomerCreated


def customer_created_handler(settings: BillingSettings) -> Batched[CustomerCreated]:
    async def customers_created(session: AsyncSession, events: list[tuple[CloudEvent, CustomerCreated]]) -> None:
        now = utcnow()
        defaults = {
            "rating": settings.default_credit_rating,
            "credit_limit": settings.default_credit_limit,
            "currency": settings.default_currency,
            "payment_terms_days": settings.default_payment_terms_days,
            "created_at": now,
            "updated_at": now,
            "version": 1,
        }
        rows = {
            data.customer_id: {"customer_id": data.customer_id, "customer_name": data.name, **defaults}
            for _, data in reversed(events)
        }  # a repeat within the run: the first wins
        table = table_of(CreditProfile)
        stmt = upsert(session, table)
        # A re-announcement, or a deal arrived first and made a default profile: only learn the name.
        await session.execute(
            stmt.on_conflict_do_update(
                index_elements=["customer_id"],
                set_={"customer_name": stmt.excluded.customer_name},
                where=table.c.customer_name.is_(None),
            ),
            list(rows.values()),
        )

    return Batched(customers_created)
