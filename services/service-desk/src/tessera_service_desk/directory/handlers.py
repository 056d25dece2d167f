"""Reactions to the customer service's facts: the local copy, merges and erasure."""

from __future__ import annotations

import uuid

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from tessera_service_desk.directory.models import KnownCustomer
from tessera_service_desk.settings import ServiceDeskSettings
from tessera_service_desk.sla.service import apply_policy, refresh_due
from tessera_service_desk.surveys.models import Survey
from tessera_service_desk.tickets.models import Ticket, TicketComment
from tessera_service_desk.tickets.rules import OPEN_STATUSES
from tessera_shared.consumer import Batched
from tessera_shared.db import table_of, upsert, utcnow
from tessera_shared.events import CloudEvent
from tessera_shared.events.contracts import CustomerCreated, CustomerErased, CustomerMerged, CustomerTierChanged

ERASED = "[erased]"


async def _customers_created(session: AsyncSession, events: list[tuple[CloudEvent, CustomerCreated]]) -> None:
    now = utcnow()
    rows = {
        data.customer_id: {"customer_id": data.customer_id, "name": data.name, "tier": "ordinary", "updated_at": now}
        for _, data in reversed(events)
    }  # a repeat: the first wins
    table = table_of(KnownCustomer)
    stmt = upsert(session, table)
    # A row made early (a tier or agreement arrived first) learns the name, unless erased since.
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=["customer_id"],
            set_={"name": stmt.excluded.name},
            where=(table.c.name == "") & table.c.erased_at.is_(None),
        ),
        list(rows.values()),
    )


on_customer_created = Batched(_customers_created)


def tier_changed_handler(settings: ServiceDeskSettings) -> Batched[CustomerTierChanged]:
    async def tiers_changed(session: AsyncSession, events: list[tuple[CloudEvent, CustomerTierChanged]]) -> None:
        # A value run moves many customers' tiers at once: one statement for the run's customers.
        newest: dict[uuid.UUID, CustomerTierChanged] = {}
        for _, data in events:
            seen = newest.get(data.customer_id)
            if seen is None or data.changed_at > seen.changed_at:
                newest[data.customer_id] = data
        table = table_of(KnownCustomer)
        stmt = upsert(session, table)
        stmt = stmt.on_conflict_do_update(
            index_elements=["customer_id"],
            set_={
                "tier": stmt.excluded.tier,
                "tier_changed_at": stmt.excluded.tier_changed_at,
                "updated_at": stmt.excluded.updated_at,
            },
            # An older announcement arriving late must not undo a newer tier.
            where=table.c.tier_changed_at.is_(None) | (table.c.tier_changed_at < stmt.excluded.tier_changed_at),
        ).returning(table.c.customer_id)
        rows = [
            {
                "customer_id": d.customer_id,
                "name": "",
                "tier": d.to_tier,
                "tier_changed_at": d.changed_at,
                "updated_at": d.changed_at,
            }
            for d in newest.values()
        ]  # a row made early: its name follows
        changed = set((await session.execute(stmt, rows)).scalars())
        if not changed:
            return
        # Open tickets follow their customer's new tier: their SLA targets are resolved again.
        tickets = (
            (
                await session.execute(
                    select(Ticket)
                    .where(col(Ticket.customer_id).in_(changed), col(Ticket.status).in_(OPEN_STATUSES))
                    .order_by(col(Ticket.id))
                )
            )
            .scalars()
            .all()
        )
        for ticket in tickets:
            data = newest[ticket.customer_id]
            if ticket.tier == data.to_tier:
                continue
            ticket.tier = data.to_tier
            await apply_policy(session, ticket)
            await refresh_due(session, ticket, settings, max(data.changed_at, ticket.updated_at))
            ticket.version += 1

    return Batched(tiers_changed)


async def on_customer_merged(session: AsyncSession, event: CloudEvent, data: CustomerMerged) -> None:
    """Re-point everything of the merged customer to the survivor (a second delivery finds nothing)."""
    for table in (Ticket, Survey):
        await session.execute(
            update(table).where(col(table.customer_id) == data.merged_id).values(customer_id=data.survivor_id)
        )
    merged = await session.get(KnownCustomer, data.merged_id)
    if merged is None:
        # Kept even when unknown so far: new tickets for the old id are pointed to the survivor.
        merged = KnownCustomer(customer_id=data.merged_id, name="")
        session.add(merged)
    merged.merged_into = data.survivor_id
    merged.updated_at = data.merged_at


async def on_customer_erased(session: AsyncSession, event: CloudEvent, data: CustomerErased) -> None:
    """Personal data goes; categories, times, scores and counts stay for the reports."""
    ticket_ids = select(col(Ticket.id)).where(col(Ticket.customer_id) == data.customer_id).scalar_subquery()
    await session.execute(
        update(Ticket)
        .where(col(Ticket.customer_id) == data.customer_id)
        .values(subject=ERASED, description="", contact_id=None)
    )
    await session.execute(update(TicketComment).where(col(TicketComment.ticket_id).in_(ticket_ids)).values(body=ERASED))
    await session.execute(update(Survey).where(col(Survey.customer_id) == data.customer_id).values(comment=None))
    known = await session.get(KnownCustomer, data.customer_id)
    if known is None:
        known = KnownCustomer(customer_id=data.customer_id, name="")
        session.add(known)
    known.name, known.erased_at, known.updated_at = "", data.erased_at, data.erased_at
