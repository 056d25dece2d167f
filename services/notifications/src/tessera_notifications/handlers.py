"""The consumer's reactions: every fact of the four topics keeps the local copies it concerns and
is routed by the rules of its type (an admin may add a rule for any type, so every type is read)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from tessera_notifications.copies.handlers import KNOWN_CUSTOMERS, keep_copies
from tessera_notifications.email.customers import dunning_letter, keep_addresses, survey_invitation
from tessera_notifications.event_types import BUSINESS_PRODUCERS
from tessera_notifications.routing import Routing, route
from tessera_shared.consumer import Batched, Handler
from tessera_shared.events import CloudEvent
from tessera_shared.events.contracts import (
    CustomerCreated,
    CustomerErased,
    CustomerMerged,
    CustomerUpdated,
    DunningStep,
    TicketClosed,
)
from tessera_shared.events.envelope import EventData, registered_event_types

CONSUMES = BUSINESS_PRODUCERS


def handlers(routing: Routing) -> dict[str, Handler[Any]]:
    async def react(session: AsyncSession, event: CloudEvent, data: EventData) -> None:
        await keep_copies(session, event)
        await route(session, event, routing)
        if isinstance(data, DunningStep):
            await dunning_letter(session, event, data, routing.settings)
        elif isinstance(data, TicketClosed):
            await survey_invitation(session, event, data, routing.settings)

    async def created(session: AsyncSession, events: list[tuple[CloudEvent, CustomerCreated]]) -> None:
        await KNOWN_CUSTOMERS.apply_created(session, events)
        await keep_addresses(session, [(data.customer_id, data.email) for _, data in events])
        for event, _ in events:
            await route(session, event, routing)

    async def updated(session: AsyncSession, event: CloudEvent, data: CustomerUpdated) -> None:
        await KNOWN_CUSTOMERS.updated(session, event, data)
        if "email" in data.changed_fields:
            await keep_addresses(session, [(data.customer_id, data.email)])
        await route(session, event, routing)

    async def merged(session: AsyncSession, event: CloudEvent, data: CustomerMerged) -> None:
        await KNOWN_CUSTOMERS.merged(session, event, data)

    async def erased(session: AsyncSession, event: CloudEvent, data: CustomerErased) -> None:
        await KNOWN_CUSTOMERS.erased(session, event, data)

    found: dict[str, Handler[Any]] = {
        event_type: react
        for event_type, model in registered_event_types().items()
        if getattr(model, "producer", None) in CONSUMES
    }
    found[CustomerCreated.event_type] = Batched(created)
    found[CustomerUpdated.event_type] = updated
    found[CustomerMerged.event_type] = merged
    found[CustomerErased.event_type] = erased
    return found
