"""What a service registers with the consumer runner: handlers, batched handlers, permanent errors."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, TypeAlias, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

import tessera_shared.events.contracts  # noqa: F401 - every contract type is known
from tessera_shared.events.envelope import CloudEvent, EventData

D = TypeVar("D", bound=EventData)

Handler: TypeAlias = Callable[[AsyncSession, CloudEvent, D], Awaitable[None]]
"""A reaction to events whose data is a ``D``: ``Handler[DealWon]`` takes a ``DealWon``.

A runner's handlers are a ``Mapping[str, Handler[Any]]`` keyed by event type: the runner gives each
handler the data model its key names (``event_model``), a pairing a dict's value type cannot state,
so any handler of any data model is accepted (a bare ``Handler`` in unchecked code means the same)."""


@dataclass(frozen=True, slots=True)
class Batched(Generic[D]):
    """A handler that applies a run of events of one type with a few statements for all of them
    (a local copy kept from another service's facts, say): ``apply(session, [(event, data), ...])``.

    When a poll applies without failures, each run of consecutive new records of the type (in a
    partition's order) is given at once; in the careful rounds after a failure it is called with one
    event at a time. Either way the session's pending objects are flushed first (its statements may
    be Core ones, which do not flush). The run shares its first event's trace context: a batched
    handler that publishes builds each row (``outbox_row``, then ``publish_many``) within
    ``tessera_shared.trace_context.continuing(event.traceparent)`` of the event it answers."""

    apply: Callable[[AsyncSession, list[tuple[CloudEvent, D]]], Awaitable[None]]
    # At most this many of its records in one transaction (None: a whole poll's), for a handler
    # whose writes lock rows others wait for until the commit.
    limit: int | None = None

    async def __call__(self, session: AsyncSession, event: CloudEvent, data: D) -> None:
        await self.many(session, [(event, data)])

    async def many(self, session: AsyncSession, events: list[tuple[CloudEvent, D]]) -> None:
        await session.flush()  # its statements see what the handlers before it wrote
        await self.apply(session, events)


class PermanentError(Exception):
    """Raised by a handler when retrying cannot help: the message goes to the DLQ at once."""
