"""Saved segments, and the campaign export: members with the channel's consent, streamed as CSV."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

from sqlalchemy import and_, insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from tessera_customer.customers.filters import CustomerFilter
from tessera_customer.customers.models import AccessLog, Customer
from tessera_customer.privacy.models import Consent
from tessera_customer.segments.models import Segment
from tessera_customer.segments.rules import CHANNELS, may_edit_segment
from tessera_customer.segments.schemas import SegmentCreate, SegmentPatch
from tessera_shared.auth import Principal
from tessera_shared.db import new_id, utcnow
from tessera_shared.errors import Conflict, Forbidden, NotFound
from tessera_shared.http.pagination import PageParams, paginate
from tessera_shared.spreadsheet import csv_line

EXPORT_CHUNK = 1000


async def load_segment(session: AsyncSession, segment_id: uuid.UUID, *, for_update: bool = False) -> Segment:
    segment = await session.get(Segment, segment_id, with_for_update=True if for_update else None)
    if segment is None:
        raise NotFound("segment", segment_id)
    return segment


def filters_of(segment: Segment) -> CustomerFilter:
    return CustomerFilter.model_validate(segment.filters)


async def _name_taken(session: AsyncSession, name: str, other_than: uuid.UUID | None = None) -> None:
    stmt = select(col(Segment.id)).where(col(Segment.name) == name)
    if other_than is not None:
        stmt = stmt.where(col(Segment.id) != other_than)
    if await session.scalar(stmt) is not None:
        raise Conflict(f"a segment named {name!r} exists")


async def create_segment(session: AsyncSession, data: SegmentCreate, principal: Principal) -> Segment:
    await _name_taken(session, data.name)
    segment = Segment(
        name=data.name, description=data.description, filters=data.filters.active(), created_by=principal.subject
    )
    session.add(segment)
    await session.flush()
    return segment


async def list_segments(
    session: AsyncSession, page: PageParams, created_by: str | None
) -> tuple[list[Segment], str | None]:
    stmt = select(Segment)
    if created_by is not None:
        stmt = stmt.where(col(Segment.created_by) == created_by)
    return await paginate(session, stmt, page, (col(Segment.id),))


async def delete_segment(session: AsyncSession, segment: Segment) -> None:
    await session.delete(segment)


def ensure_may_edit(principal: Principal, segment: Segment) -> None:
    if not may_edit_segment(principal, segment.created_by):
        raise Forbidden("only the segment's author, a manager or an admin may change it")


async def update_segment(session: AsyncSession, segment: Segment, patch: SegmentPatch) -> Segment:
    given = patch.model_fields_set
    if "name" in given and patch.name is not None and patch.name != segment.name:
        await _name_taken(session, patch.name, other_than=segment.id)
        segment.name = patch.name
    if "description" in given:
        segment.description = patch.description
    if "filters" in given and patch.filters is not None:
        segment.filters = patch.filters.active()
    if session.is_modified(segment):
        segment.version += 1
        segment.updated_at = utcnow()
        await session.flush()
    return segment


def export_header(purpose: str) -> str:
    _, column = CHANNELS[purpose]
    return csv_line(
        [
            "customer_id",
            "external_id",
            "kind",
            "name",
            column,
            "owner_id",
            "tier",
            "consent_source",
            "consent_recorded_at",
        ]
    )


async def export_rows(
    sessions: async_sessionmaker[AsyncSession],
    filters: CustomerFilter,
    purpose: str,
    actor: str,
) -> AsyncIterator[str]:
    """Members with the purpose's consent granted and a value in its channel, never erased ones.

    Walks the members by id in chunks, one short transaction each (no connection held while the
    client reads), and writes each chunk's reads to the access log."""
    consent_purpose, column = CHANNELS[purpose]
    channel = getattr(Customer, column)
    stmt = (
        filters.apply(
            select(
                col(Customer.id),
                col(Customer.external_id),
                col(Customer.kind),
                col(Customer.name),
                channel,
                col(Customer.owner_id),
                col(Customer.tier),
                col(Consent.source),
                col(Consent.recorded_at),
            )
            .join(
                Consent,
                and_(
                    col(Consent.customer_id) == col(Customer.id),
                    col(Consent.purpose) == consent_purpose,
                    col(Consent.granted).is_(True),
                ),
            )
            .where(col(Customer.erased_at).is_(None), channel.is_not(None))
        )
        .order_by(col(Customer.id))
        .limit(EXPORT_CHUNK)
    )
    after: uuid.UUID | None = None
    while True:
        async with sessions() as session, session.begin():
            page = stmt if after is None else stmt.where(col(Customer.id) > after)
            rows = (await session.execute(page)).all()
            if rows:
                now = utcnow()
                await session.execute(
                    insert(AccessLog),
                    [
                        {
                            "id": new_id(),
                            "customer_id": r[0],
                            "principal": actor,
                            "action": f"export_{purpose}",
                            "at": now,
                        }
                        for r in rows
                    ],
                )
        if rows:
            yield "".join(csv_line([*r[:8], r[8].isoformat()]) for r in rows)
        if len(rows) < EXPORT_CHUNK:
            return
        after = rows[-1][0]
