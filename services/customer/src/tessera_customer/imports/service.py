"""Storing imported customers in batches: one transaction per batch holds the customers, their
tags, timeline lines and customer.created outbox rows, written with multi-row INSERTs."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tessera_customer.customers.models import Customer, CustomerTag
from tessera_customer.customers.schemas import CustomerCreate
from tessera_customer.customers.service import created_event, record_fields
from tessera_customer.imports.parsing import RowError, validate
from tessera_customer.timeline import service as timeline
from tessera_customer.timeline.models import TimelineEntry
from tessera_shared.db import dialect_name, new_id, unit_of_work, upsert, utcnow
from tessera_shared.outbox import outbox_row, publish_many

MAX_REPORTED_ERRORS = 1000
ANALYZE_AFTER = 1000
# Core tables, not ORM entities: many rows per INSERT without building objects.
CUSTOMERS = Customer.__table__


@dataclass
class ImportReport:
    received: int = 0
    created: int = 0
    existing: int = 0
    failed: int = 0
    errors: list[RowError] = field(default_factory=list)
    errors_truncated: bool = False

    def fail(self, errors: list[RowError]) -> None:
        self.failed += 1
        room = MAX_REPORTED_ERRORS - len(self.errors)
        self.errors.extend(errors[: max(room, 0)])
        self.errors_truncated = self.errors_truncated or len(errors) > room


def valid_rows(
    rows: Iterable[tuple[int, dict[str, Any] | RowError]], report: ImportReport, *, csv_columns: bool
) -> Iterator[CustomerCreate]:
    """The rows that pass the API's schema; the others are counted and reported by line."""
    first_line: dict[str, int] = {}
    for line, record in rows:
        report.received += 1
        result = record if isinstance(record, RowError) else validate(line, record, csv_columns=csv_columns)
        if isinstance(result, RowError):
            report.fail([result])
        elif isinstance(result, list):
            report.fail(result)
        elif (seen := first_line.setdefault(result.external_id or "", line)) != line:
            report.fail([RowError(line, "external_id", f"appears again (first at line {seen})")])
        else:
            yield result


async def import_customers(
    sessions: async_sessionmaker[AsyncSession], rows: Iterator[CustomerCreate], report: ImportReport, batch_size: int
) -> ImportReport:
    """Store ``rows`` batch by batch: the next batch is parsed and validated (in a worker thread)
    while the database writes the ones before; on PostgreSQL two batches are written at once (one
    transaction waits on the server while the other's rows are sent), on SQLite one."""
    in_flight = 2 if sessions.kw["bind"].dialect.name == "postgresql" else 1
    pending: deque[tuple[int, asyncio.Task[int]]] = deque()

    def take() -> list[CustomerCreate]:
        return list(islice(rows, batch_size))

    async def settle_oldest() -> None:
        size, task = pending.popleft()
        created = await task
        report.created += created
        report.existing += size - created

    try:
        batch = await asyncio.to_thread(take)
        while batch:
            pending.append((len(batch), asyncio.create_task(_store_in_transaction(sessions, batch))))
            if len(pending) >= in_flight:
                await settle_oldest()
            batch = await asyncio.to_thread(take)
        while pending:
            await settle_oldest()
    finally:
        for _, task in pending:  # after a failure: the other write is not left running unobserved
            task.cancel()
        await asyncio.gather(*(task for _, task in pending), return_exceptions=True)
    if report.created >= ANALYZE_AFTER:
        async with unit_of_work(sessions) as session:
            if dialect_name(session) == "postgresql":
                # Fresh statistics now rather than at autovacuum's leisure: until then lists,
                # searches and dedup over the new rows are planned as if the table were small.
                await session.execute(text("ANALYZE customers"))
    return report


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
