"""Storing imported customers in batches: one transaction per batch holds the customers, their
tags, timeline lines and customer.created outbox rows, written with multi-row INSERTs. Each row's
custom fields are validated as a single create's (a bad value refuses that row, naming
``custom_fields.<key>``) and a new customer gets its territory's team as a single create does."""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tessera_customer.custom_fields import CUSTOM_FIELDS
from tessera_customer.customers.models import Customer, CustomerTag
from tessera_customer.customers.schemas import CustomerCreate
from tessera_customer.customers.service import created_event, custom_field_input, record_fields
from tessera_customer.teams import KNOWN_TEAMS
from tessera_customer.timeline import service as timeline
from tessera_customer.timeline.models import TimelineEntry
from tessera_shared.db import dialect_name, new_id, unit_of_work, upsert, utcnow
from tessera_shared.errors import InvalidInput, field_error
from tessera_shared.imports.batches import BatchResult, ImportReport, Row, row_errors
from tessera_shared.imports.parsing import RowError
from tessera_shared.outbox import outbox_row, publish_many
from tessera_shared.teams import Team, match_territory

ANALYZE_AFTER = 1000
# Core tables, not ORM entities: many rows per INSERT without building objects.
CUSTOMERS = Customer.__table__


async def store_customers(sessions: async_sessionmaker[AsyncSession], batch: list[Row[CustomerCreate]]) -> BatchResult:
    """One batch in one transaction (tessera_shared.imports.batches.store_in_batches calls it)."""
    return await _store_in_transaction(sessions, batch)


async def analyze_after(sessions: async_sessionmaker[AsyncSession], report: ImportReport) -> None:
    if report.created >= ANALYZE_AFTER:
        async with unit_of_work(sessions) as session:
            if dialect_name(session) == "postgresql":
                # Fresh statistics now rather than at autovacuum's leisure: until then lists,
                # searches and dedup over the new rows are planned as if the table were small.
                await session.execute(text("ANALYZE customers"))


async def _store_in_transaction(
    sessions: async_sessionmaker[AsyncSession], batch: list[Row[CustomerCreate]]
) -> BatchResult:
    async with unit_of_work(sessions) as session:
        return await _store_batch(session, batch)


async def _typed_and_routed(
    session: AsyncSession, row: CustomerCreate, fields: dict[str, Any], teams: list[Team], taken: set[tuple[str, str]]
) -> dict[str, Any]:
    """What a single create adds to the record fields: the typed custom fields, validated
    (``custom_attributes`` of a defined key mapped in; a 422 naming ``custom_fields.<key>``; a
    unique value another customer or an earlier row of the batch holds), and the team (the one
    the row names, a live team, else the territory's)."""
    attributes, values = await custom_field_input(session, row.custom_attributes, row.custom_fields)
    custom_fields = await CUSTOM_FIELDS.values(session, "customer", values, creating=True)
    definitions = await CUSTOM_FIELDS.definitions(session, "customer")
    unique = {(k, orjson.dumps(v).decode()) for k, v in custom_fields.items() if definitions[k].unique}
    if repeated := sorted(k for k, _ in unique & taken):
        raise InvalidInput.of(
            field_error(f"custom_fields.{k}", "an earlier row of this import has this value", kind="unique")
            for k in repeated
        )
    if row.team_id is not None:
        if row.team_id not in {t.team_id for t in teams}:
            raise InvalidInput("team_id", "no such team")
        team_id: Any = row.team_id
    else:
        team = match_territory(teams, fields["country"], fields["region"])
        team_id = team.team_id if team is not None else None
    taken |= unique
    kept = {k: str(v) if isinstance(v, str) else v for k, v in (attributes or {}).items()}  # plain text
    return {"custom_attributes": kept, "custom_fields": custom_fields, "team_id": team_id}


async def _store_batch(session: AsyncSession, batch: list[Row[CustomerCreate]]) -> BatchResult:
    """Insert the batch's new external ids; returns how many were new and the rows a rule refused."""
    now = utcnow()
    values: list[dict[str, Any]] = []
    refused: list[list[RowError]] = []
    teams = await KNOWN_TEAMS.teams(session)  # read once per batch
    taken: set[tuple[str, str]] = set()
    for line, row in ((r.line, r.data) for r in batch):
        fields = record_fields(row, row.owner_id, now)
        try:
            fields.update(await _typed_and_routed(session, row, fields, teams, taken))
        except InvalidInput as exc:  # nothing of this row was written
            refused.append(row_errors(line, exc))
            continue
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
    if not values:
        return BatchResult(0, refused)
    stmt = upsert(session, CUSTOMERS).on_conflict_do_nothing(index_elements=["external_id"]).returning(CUSTOMERS.c.id)
    inserted = set((await session.scalars(stmt, values)).all())
    stored = [v for v in values if v["id"] in inserted]
    if not stored:
        return BatchResult(0, refused)
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
    return BatchResult(len(stored), refused)
