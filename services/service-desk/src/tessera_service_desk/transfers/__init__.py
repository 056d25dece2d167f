"""The desk's share of a bulk ownership transfer (tessera_shared.ownership): tickets by assignee.

A ticket's "owner" is its assignee. Open tickets (new, open, pending, on hold: not solved or
closed) assigned to the leaving agent move to the new one, each with ``ticket.updated``
(``changes.assignee_id``), keyed by its customer as a single reassignment is; the finished share
publishes ``ownership.tickets_transferred``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Table

from tessera_service_desk.models import metadata
from tessera_service_desk.tickets.models import Ticket
from tessera_service_desk.tickets.rules import OPEN_STATUSES
from tessera_shared.db import table_of
from tessera_shared.events import EventData
from tessera_shared.events.contracts import TicketChanges, TicketsTransferred, TicketUpdated
from tessera_shared.ownership.service import Moved, Transfers, TransferSource
from tessera_shared.ownership.tables import ownership_table

TABLE = ownership_table(metadata)


def _events(rows: Sequence[Mapping[str, Any]], moved: Moved) -> list[tuple[EventData, Any]]:
    return [
        (
            TicketUpdated(
                ticket_id=r["id"],
                customer_id=r["customer_id"],
                changes=TicketChanges(assignee_id=moved.to_user),
                version=r["version"],
                updated_by=moved.by,
                updated_at=moved.at,
            ),
            r["customer_id"],
        )
        for r in rows
    ]


def _open(t: Table) -> ColumnElement[bool]:
    return t.c.status.in_(sorted(OPEN_STATUSES))


TRANSFERS = Transfers(
    TABLE,
    [
        TransferSource(
            "tickets", table_of(Ticket), ("id", "customer_id", "version"), _events, owner="assignee_id", open=_open
        )
    ],
    TicketsTransferred,
)
