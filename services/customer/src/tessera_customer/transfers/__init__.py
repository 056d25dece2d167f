"""The customer service's share of a bulk ownership transfer (tessera_shared.ownership): customers.

Every customer of the leaving owner moves (a customer is always "open"), except a merged-away or
erased one; each publishes ``customer.updated`` with ``changed_fields: ["owner_id"]`` and gets its
timeline line, as a single owner change does; the owner's activity clock (the pool rule's
``owner_active_at``) starts again. The finished share publishes ``ownership.customers_transferred``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Table, insert
from sqlalchemy.ext.asyncio import AsyncSession

from tessera_customer.customers.models import Customer
from tessera_customer.models import metadata
from tessera_customer.timeline import service as timeline
from tessera_customer.timeline.models import TimelineEntry
from tessera_shared.db import table_of
from tessera_shared.events import EventData
from tessera_shared.events.contracts import CustomersTransferred, CustomerUpdated
from tessera_shared.ownership.service import Moved, Transfers, TransferSource
from tessera_shared.ownership.tables import ownership_table

TABLE = ownership_table(metadata)


def _events(rows: Sequence[Mapping[str, Any]], moved: Moved) -> list[tuple[EventData, Any]]:
    return [
        (
            CustomerUpdated(
                customer_id=r["id"],
                changed_fields=["owner_id"],
                name=r["name"],
                email=r["email"],
                owner_id=moved.to_user,
                version=r["version"],
                updated_at=moved.at,
            ),
            r["id"],
        )
        for r in rows
    ]


async def _timeline(session: AsyncSession, rows: Sequence[Mapping[str, Any]], moved: Moved) -> None:
    summary = f"Changed owner_id ({moved.by}: ownership transfer from {moved.from_user})"
    data = {"changed_fields": ["owner_id"], "actor": moved.by, "transfer_id": str(moved.job_id)}
    await session.execute(
        insert(table_of(TimelineEntry)),
        [timeline.row(r["id"], "customer.updated", summary, occurred_at=moved.at, data=data) for r in rows],
    )


def _movable(t: Table) -> ColumnElement[bool]:
    return t.c.merged_into_id.is_(None) & t.c.erased_at.is_(None)


def _touch(now: datetime) -> Mapping[str, Any]:
    return {"owner_active_at": now}


TRANSFERS = Transfers(
    TABLE,
    [
        TransferSource(
            "customers",
            table_of(Customer),
            ("id", "name", "email", "version"),
            _events,
            movable=_movable,
            touch=_touch,
            after=_timeline,
        )
    ],
    CustomersTransferred,
)
