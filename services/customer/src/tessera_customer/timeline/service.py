"""Writing to the timeline: consumed facts and the service's own changes alike."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from tessera_customer.timeline.models import TimelineEntry
from tessera_customer.timeline.visibility import visible_to
from tessera_shared.auth import Principal
from tessera_shared.db import new_id, table_of, utcnow
from tessera_shared.db.bulk import insert_many
from tessera_shared.http.pagination import PageParams, paginate


def record(
    session: AsyncSession,
    customer_id: uuid.UUID,
    kind: str,
    summary: str,
    *,
    occurred_at: datetime | None = None,
    source: str = "customer",
    ref_id: object | None = None,
    data: dict[str, Any] | None = None,
    event_id: str | None = None,
) -> TimelineEntry:
    entry = TimelineEntry(
        customer_id=customer_id,
        occurred_at=occurred_at or utcnow(),
        kind=kind,
        source=source,
        summary=summary[:500],
        ref_id=str(ref_id) if ref_id is not None else None,
        data=data or {},
        event_id=event_id,
    )
    session.add(entry)
    return entry


def row(
    customer_id: uuid.UUID,
    kind: str,
    summary: str,
    *,
    occurred_at: datetime,
    data: dict[str, Any] | None = None,
    source: str = "customer",
    ref_id: object | None = None,
    event_id: str | None = None,
) -> dict[str, Any]:
    """A timeline line as a row (the service's own, or with ``source``, ``ref_id`` and
    ``event_id`` a consumed fact's, as ``record`` writes it), for one multi-row INSERT of many."""
    return {
        "id": new_id(),
        "customer_id": customer_id,
        "occurred_at": occurred_at,
        "kind": kind,
        "source": source,
        "summary": summary[:500],
        "ref_id": str(ref_id) if ref_id is not None else None,
        "data": data or {},
        "event_id": event_id,
    }


async def record_many(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """Lines made by ``row``, in one INSERT."""
    await insert_many(session, table_of(TimelineEntry), rows)


async def already_recorded(session: AsyncSession, event_id: str) -> bool:
    return (
        await session.scalar(select(col(TimelineEntry.id)).where(col(TimelineEntry.event_id) == event_id))
    ) is not None


async def page_of(
    session: AsyncSession, customer_id: uuid.UUID, principal: Principal, kind: str | None, page: PageParams
) -> tuple[list[TimelineEntry], str | None]:
    """One page of a customer's timeline, newest first, as the principal may see it."""
    stmt = select(TimelineEntry).where(col(TimelineEntry.customer_id) == customer_id)
    # Each entry keeps the read rule of the service it came from (a rep: their own deals only).
    if (visible := visible_to(principal)) is not None:
        stmt = stmt.where(visible)
    if kind:
        stmt = stmt.where(col(TimelineEntry.kind) == kind)
    return await paginate(session, stmt, page, (col(TimelineEntry.occurred_at), col(TimelineEntry.id)), descending=True)
