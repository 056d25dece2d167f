"""Reactions of billing to other services' facts."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from tessera_billing.credit.models import CreditProfile
from tessera_billing.credit.service import exposure_changed, open_balances_of
from tessera_billing.settings import BillingSettings
from tessera_shared.consumer import Batched
from tessera_shared.db import table_of, upsert, utcnow
from tessera_shared.events import CloudEvent
from tessera_shared.events.contracts import CustomerCreated
from tessera_shared.outbox import outbox_row, publish_many
from tessera_shared.trace_context import continuing


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
        known = select(col(CreditProfile.customer_id)).where(col(CreditProfile.customer_id).in_(list(rows)))
        existing = set((await session.execute(known)).scalars())
        stmt = upsert(session, table)
        # A re-announcement, or a deal arrived first and made a default profile: only learn the name.
        # Either way the statement locks every row of the run until the transaction ends.
        await session.execute(
            stmt.on_conflict_do_update(
                index_elements=["customer_id"],
                set_={"customer_name": stmt.excluded.customer_name},
                where=table.c.customer_name.is_(None),
            ),
            list(rows.values()),
        )
        await announce_created(session, [(e, d) for e, d in events if d.customer_id not in existing])

    return Batched(customers_created)


async def announce_created(session: AsyncSession, events: list[tuple[CloudEvent, CustomerCreated]]) -> None:
    """Each profile the run made is announced (``credit.exposure_changed``, ``profile_created``): sales
    learns the customer's limit from billing, with no default of its own (docs/domain.md §10.1).
    One outbox row per profile, each continuing its own customer.created's trace, in one INSERT."""
    first: dict[uuid.UUID, CloudEvent] = {}
    for event, data in events:
        first.setdefault(data.customer_id, event)
    if not first:
        return
    made = select(CreditProfile).where(col(CreditProfile.customer_id).in_(list(first)))
    profiles = {p.customer_id: p for p in (await session.execute(made)).scalars()}
    balances = await open_balances_of(session, list(first))
    rows = []
    for customer_id, event in first.items():  # in the run's order
        with continuing(event.traceparent):
            fact = exposure_changed(profiles[customer_id], balances.get(customer_id, {}), "profile_created")
            rows.append(outbox_row(fact, subject=customer_id))
    await publish_many(session, rows)
