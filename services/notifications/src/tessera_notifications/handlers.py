"""The consumer's reactions: every fact of the four topics keeps the local copies it concerns and
is routed by the rules of its type (an admin may add a rule for any type, so every type is read)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from tessera_notifications.copies.handlers import KNOWN_CUSTOMERS, Copies
from tessera_notifications.email.customers import dunning_letter, keep_addresses, survey_invitation
from tessera_notifications.event_types import BUSINESS_PRODUCERS
from tessera_notifications.routing import Routing, route, rules_of
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
from tessera_shared.trace_context import continuing

CONSUMES = BUSINESS_PRODUCERS

# Facts of one run per transaction: a routed fact's inbox rows hold their users' sequence rows
# until the commit.
FACTS_PER_TRANSACTION = 64


def handlers(routing: Routing) -> dict[str, Handler[Any]]:
    async def react(session: AsyncSession, events: list[tuple[CloudEvent, EventData]]) -> None:
        """A run of facts in order, each under its own trace: the copies they keep are written
        together, before any fact whose routing or letter reads them (then the copies up to that
        fact), and at the run's end; a fact no rule of its type routes asks nothing more."""
        copies = Copies()
        for event, data in events:
            copies.add(event)
            letter = isinstance(data, DunningStep | TicketClosed)
            if not letter and not await rules_of(session, event.type):
                continue
            await copies.write(session)
            with continuing(event.traceparent):
                await route(session, event, routing)
                if isinstance(data, DunningStep):
                    await dunning_letter(session, event, data, routing.settings)
                elif isinstance(data, TicketClosed):
                    await survey_invitation(session, event, data, routing.settings)
        await copies.write(session)

    async def created(session: AsyncSession, events: list[tuple[CloudEvent, CustomerCreated]]) -> None:
        await KNOWN_CUSTOMERS.apply_created(session, events)
        await keep_addresses(session, [(data.customer_id, data.email) for _, data in events])
        for event, _ in events:
            await route(session, event, routing)

    async def updated(session: AsyncSession, events: list[tuple[CloudEvent, CustomerUpdated]]) -> None:
        await KNOWN_CUSTOMERS.apply_updated(session, events)
        await keep_addresses(session, [(d.customer_id, d.email) for _, d in events if "email" in d.changed_fields])
        for event, _ in events:
            await route(session, event, routing)

    async def merged(session: AsyncSession, event: CloudEvent, data: CustomerMerged) -> None:
        await KNOWN_CUSTOMERS.merged(session, event, data)

    async def erased(session: AsyncSession, event: CloudEvent, data: CustomerErased) -> None:
        await KNOWN_CUSTOMERS.erased(session, event, data)

    facts = Batched(react, limit=FACTS_PER_TRANSACTION)
    found: dict[str, Handler[Any]] = {
        event_type: facts
        for event_type, model in registered_event_types().items()
        if getattr(model, "producer", None) in CONSUMES
    }
    found[CustomerCreated.event_type] = Batched(created)
    found[CustomerUpdated.event_type] = Batched(updated)
    found[CustomerMerged.event_type] = merged
    found[CustomerErased.event_type] = erased
    return found
