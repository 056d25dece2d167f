"""Storing imported customers in batches: one transaction per batch holds the customers, their
tags, timeline lines and customer.created outbox rows, written with multi-row INSERTs."""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tessera_customer.customers.models import Customer, CustomerTag
from tessera_customer.customers.schemas import CustomerCreate
from tessera_customer.customers.service import created_event, record_fields
from tessera_customer.timeline import service as timeline
from tessera_customer.timeline.models import TimelineEntry
from tessera_shared.db import dialect_name, new_id, unit_of_work, upsert, utcnow
from tessera_shared.imports.batches import BatchResult, ImportReport, Row
from tessera_shared.outbox import outbox_row, publish_many

ANALYZE_AFTER = 1000
# Core tables, not ORM entities: many rows per INSERT without building objects.
CUSTOMERS = Customer.__table__


async def store_customers(sessions: async_sessionmaker[AsyncSession], batch: list[Row[CustomerCreate]]) -> BatchResult:
    """One batch in one transaction (tessera_shared.imports.batches.store_in_batches calls it)."""
    created = await _store_in_transaction(sessions, [row.data for row in batch])
    return BatchResult(created)


async def analyze_after(sessions: async_sessionmaker[AsyncSession], report: ImportReport) -> None:
    if report.created >= ANALYZE_AFTER:
        async with unit_of_work(sessions) as session:
            if dialect_name(session) == "postgresql":
                # Fresh statistics now rather than at autovacuum's leisure: until then lists,
                # searches and dedup over the new rows are planned as if the table were small.
                await session.execute(text("ANALYZE customers"))


async def _store_in_transaction(sessions: async_sessionmaker[AsyncSession], batch: list[CustomerCreate]) -> int:
    async with unit_of_work(sessions) as session:
        return await _store_batch(session, batch)


async def _store_batch(session: AsyncSession, batch: list[CustomerCreate]) -> int:
    """Insert the batch's new external ids; returns how many were new."""
    now = utcnow()
    values: list[dict[str, Any]] = []
    for row in batch:
        fields = record_fields(row, row.owner_id, now)
        fields.update(
            id=new_id(),
            status="prospect",
            created_at=now,
            updated_at=now,
            version=1,
            purchase_count=0,
            lifetime_values={},
            monetary=0,
        )
        values.append(fields)
    # An external id imported before (or created by hand) is skipped by ON CONFLICT, whoever wrote it
    # and whenever: RETURNING says which rows are new, and only those get events.
    stmt = upsert(session, CUSTOMERS).on_conflict_do_nothing(index_elements=["external_id"]).returning(CUSTOMERS.c.id)
    inserted = set((await session.scalars(stmt, values)).all())
    stored = [v for v in values if v["id"] in inserted]
    if not stored:
        return 0
    tags = [{"customer_id": v["id"], "tag": t} for v in stored for t in v["tags"]]
    if tags:
        await session.execute(insert(CustomerTag.__table__), tags)
    await session.execute(
        insert(TimelineEntry.__table__),
        [
            timeline.row(
                v["id"], "customer.created", f"Customer {v['name']} imported", occurred_at=now, data={"imported": True}
            )
            for v in stored
        ],
    )
    await publish_many(session, [outbox_row(created_event(v["id"], v), subject=v["id"], now=now) for v in stored])
    return len(stored)
