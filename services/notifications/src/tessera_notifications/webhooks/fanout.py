"""The consumer's side: every handler of a fanned-out event type also writes the event's
deliveries, in the same transaction as the inbox row (exactly one delivery per event and endpoint)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from tessera_notifications.event_types import business_event_types
from tessera_notifications.webhooks.deliveries import fan_out, forget_customer
from tessera_shared.consumer import Batched, Handler
from tessera_shared.events import CloudEvent
from tessera_shared.events.contracts import CustomerErased
from tessera_shared.events.envelope import EventData


def with_webhooks(handlers: Mapping[str, Handler[Any]]) -> dict[str, Handler[Any]]:
    """``handlers`` with the fan-out added to every type partners may subscribe to."""
    wrapped: dict[str, Handler[Any]] = dict(handlers)
    # One wrapper per handler: a batched handler of many types stays one handler (the runner's
    # runs are cut where the handler changes, so a run of its facts may mix types).
    made: dict[int, Handler[Any]] = {}
    for event_type in business_event_types():
        handler = handlers.get(event_type)
        if id(handler) not in made:
            made[id(handler)] = _wrap(handler)
        wrapped[event_type] = made[id(handler)]
    return wrapped


def _wrap(handler: Handler[Any] | None) -> Handler[Any]:
    if isinstance(handler, Batched):
        inner = handler

        async def many(session: AsyncSession, events: list[tuple[CloudEvent, Any]]) -> None:
            await inner.many(session, events)
            await fan_out(session, [event for event, _ in events])

        return Batched(many, limit=inner.limit)

    async def one(session: AsyncSession, event: CloudEvent, data: EventData) -> None:
        if handler is not None:
            await handler(session, event, data)
        if isinstance(data, CustomerErased):
            await forget_customer(session, str(data.customer_id))
        await fan_out(session, [event])

    return one
