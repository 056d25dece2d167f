"""Sales' share of a bulk ownership transfer (tessera_shared.ownership): leads, deals, activities.

Open records: leads not converted or disqualified, deals not closed (won or lost, in any
pipeline: ``closed_at`` is set), activities not done. Each moved record publishes its usual
``lead.updated`` / ``deal.updated`` / ``activity.updated`` with ``changes.owner_id``, keyed as a
single change keys it; the finished share publishes ``ownership.sales_transferred``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Table

from tessera_sales.activities.models import Activity
from tessera_sales.deals.models import Deal
from tessera_sales.leads.models import Lead
from tessera_sales.models import metadata
from tessera_shared.db import table_of
from tessera_shared.events import EventData
from tessera_shared.events.contracts import (
    ActivityChanges,
    ActivityUpdated,
    DealChanges,
    DealUpdated,
    LeadChanges,
    LeadUpdated,
    SalesTransferred,
)
from tessera_shared.ownership.service import Moved, Transfers, TransferSource
from tessera_shared.ownership.tables import ownership_table

TABLE = ownership_table(metadata)
CLOSED_LEADS = ("converted", "disqualified")


def _lead_events(rows: Sequence[Mapping[str, Any]], moved: Moved) -> list[tuple[EventData, Any]]:
    return [
        (
            LeadUpdated(
                lead_id=r["id"],
                customer_id=r["customer_id"],
                owner_id=moved.to_user,
                changes=LeadChanges(owner_id=moved.to_user),
                version=r["version"],
                updated_by=moved.by,
                updated_at=moved.at,
            ),
            r["customer_id"] or r["id"],
        )
        for r in rows
    ]


def _deal_events(rows: Sequence[Mapping[str, Any]], moved: Moved) -> list[tuple[EventData, Any]]:
    return [
        (
            DealUpdated(
                deal_id=r["id"],
                customer_id=r["customer_id"],
                owner_id=moved.to_user,
                currency=r["currency"],
                changes=DealChanges(owner_id=moved.to_user),
                version=r["version"],
                updated_by=moved.by,
                updated_at=moved.at,
            ),
            r["customer_id"],
        )
        for r in rows
    ]


def _activity_events(rows: Sequence[Mapping[str, Any]], moved: Moved) -> list[tuple[EventData, Any]]:
    return [
        (
            ActivityUpdated(
                activity_id=r["id"],
                kind=r["kind"],
                customer_id=r["customer_id"],
                lead_id=r["lead_id"],
                deal_id=r["deal_id"],
                owner_id=moved.to_user,
                changes=ActivityChanges(owner_id=moved.to_user),
                version=r["version"],
                updated_by=moved.by,
                updated_at=moved.at,
            ),
            r["customer_id"] or r["lead_id"] or r["deal_id"] or r["id"],
        )
        for r in rows
    ]


def _open_lead(t: Table) -> ColumnElement[bool]:
    return t.c.status.not_in(CLOSED_LEADS)


def _open_deal(t: Table) -> ColumnElement[bool]:
    return t.c.closed_at.is_(None)


def _open_activity(t: Table) -> ColumnElement[bool]:
    return t.c.completed_at.is_(None)


TRANSFERS = Transfers(
    TABLE,
    [
        TransferSource("leads", table_of(Lead), ("id", "customer_id", "version"), _lead_events, open=_open_lead),
        TransferSource(
            "deals", table_of(Deal), ("id", "customer_id", "currency", "version"), _deal_events, open=_open_deal
        ),
        TransferSource(
            "activities",
            table_of(Activity),
            ("id", "kind", "customer_id", "lead_id", "deal_id", "version"),
            _activity_events,
            open=_open_activity,
        ),
    ],
    SalesTransferred,
)
