"""A polled record and its progress; which failures are worth a retry; runs of one batched handler."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from aiokafka import ConsumerRecord
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError

import tessera_shared.events.contracts  # noqa: F401 - every contract type is known
from tessera_shared.consumer.handlers import Batched, Handler
from tessera_shared.db.retry import lost_race
from tessera_shared.events.envelope import CloudEvent


def is_transient(exc: BaseException) -> bool:
    if isinstance(exc, IntegrityError):
        return False
    if isinstance(exc, (OperationalError, InterfaceError)):
        return True
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    if lost_race(exc):
        return True  # a round holds locks longer than one message did: a deadlock is retried
    return isinstance(exc, (ConnectionError, TimeoutError, OSError))


@dataclass(slots=True, eq=False)
class Item:
    """A polled record and how far it got."""

    record: ConsumerRecord
    event: CloudEvent | None = None
    handler: Handler[Any] | None = None  # None: nothing to apply (skipped, or parked at once)
    park: tuple[BaseException, str] | None = None
    attempts: int = 0
    done: bool = False  # applied (or found already applied) in the last round's transaction
    applied: bool = False

    @property
    def target(self) -> tuple[CloudEvent, Handler[Any]]:
        """The event and its handler, of an item that has a handler (only those are claimed,
        applied, retried or counted: an item is given a handler only with its event)."""
        if self.event is None or self.handler is None:
            raise RuntimeError("an item without a handler has nothing to apply")
        return self.event, self.handler


def runs(items: list[Item]) -> Iterator[list[Item]]:
    """Consecutive items with the same batched handler together; every other item alone."""
    run: list[Item] = []
    for item in items:
        if run and not (isinstance(item.handler, Batched) and item.handler is run[0].handler):
            yield run
            run = []
        run.append(item)
    if run:
        yield run
