"""Tags on records (customers, deals, leads, tickets): one mechanic for every service (issue 24 part 3).

A record keeps its tags twice: sorted and without duplicates in a JSON column of its own row (what
reads, exports and events show) and one row per tag in a side table ``<entity>_tags`` keyed by
(record id, tag) with an index on (tag, record id). The list's ``?tag=`` and the search language's
``tags contains_token`` go through that index, on PostgreSQL and SQLite alike, at any size.

A service plugs it in with:

- ``tag_table(metadata, "deal_tags", "deals", "deal_id")`` beside its model, the record's
  ``tags`` JSON column, and ``TagList`` on its create and patch schemas;
- ``TagIndex(table, Deal.id)``: ``await index.set(session, deal.id, deal.tags)`` whenever its
  create or update use case sets tags (``normalise`` them first), ``index.tagged(tag)`` in the
  list filter, ``index.prop()`` as the search language's ``tags`` property;
- ``bulk_tag`` behind ``POST /v1/<resource>/tags`` (``BulkTags``: ``{ids, add, remove}``): each
  record the caller may see and change is tagged through the service's own update use case, so
  every changed record is one ``<entity>.updated`` event through the outbox and one version, and
  the owner rules are the single PATCH's. The answer is the batch answer
  (``tessera_shared.http.batch``): per position in ``ids``, ``updated`` / ``unchanged`` or
  ``error`` with its problem (a missing record and one the caller may not see are both 404);
  ``200`` when all succeeded, ``207`` otherwise.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Annotated, Any, TypeVar

import sqlalchemy as sa
from alembic import op
from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import Column, ColumnElement, ForeignKey, Index, MetaData, String, Table, Uuid, delete, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncSession

from tessera_shared.db.bulk import insert_many
from tessera_shared.errors import DomainError, InvalidInput, NotFound
from tessera_shared.http.batch import MAX_BATCH, BatchUpsertResult, Outcomes
from tessera_shared.http.inputs import Trim
from tessera_shared.search import Prop

MAX_TAGS = 50
Tag = Annotated[str, Trim(min_length=1, max_length=50)]
TagList = Annotated[list[Tag], Field(max_length=MAX_TAGS)]

R = TypeVar("R")


def normalise(tags: Iterable[str]) -> list[str]:
    """What a record stores: each tag once, sorted (tags are compared as written, case included)."""
    return sorted(set(tags))


def tag_table(metadata: MetaData, name: str, owner_table: str, owner_column: str) -> Table:
    """The side table ``name`` (``owner_column`` → ``owner_table.id``, ``tag``) and its (tag, id) index."""
    return Table(
        name,
        metadata,
        Column(owner_column, Uuid(), ForeignKey(f"{owner_table}.id", ondelete="CASCADE"), primary_key=True),
        Column("tag", String(50), primary_key=True),
        Index(f"ix_{name}_tag_{owner_column}", "tag", owner_column),
    )


class TagIndex:
    """One entity's tag rows: kept in step with the record's ``tags``, and the conditions that read them."""

    def __init__(self, table: Table, record_id: Any) -> None:
        self.table = table
        self.record_id = record_id
        self.owner_column = next(c for c in table.primary_key.columns if c.name != "tag")

    def tagged(self, tag: str) -> ColumnElement[bool]:
        """The records carrying ``tag`` (an IN over the index on (tag, record id))."""
        ids = select(self.owner_column).where(self.table.c.tag == tag)
        condition: ColumnElement[bool] = self.record_id.in_(ids)
        return condition

    def prop(self) -> Prop:
        """The search language's ``tags``: ``contains_token`` (and its ``in`` over tokens) only."""
        return Prop(
            self.record_id,
            "text",
            token=self.tagged,
            filterable=False,
            indexed_by=(self.table.name, "tag"),
        )

    def rows(self, records: Iterable[tuple[uuid.UUID, Iterable[str]]]) -> list[dict[str, Any]]:
        """The side rows of new records (for one multi-row INSERT beside theirs)."""
        return [{self.owner_column.name: rid, "tag": t} for rid, tags in records for t in tags]

    async def insert(self, session: AsyncSession, records: Iterable[tuple[uuid.UUID, Iterable[str]]]) -> None:
        await insert_many(session, self.table, self.rows(records))

    async def set(self, session: AsyncSession, record_id: uuid.UUID, tags: Iterable[str]) -> None:
        """The record's side rows become ``tags`` (its stored, normalised list)."""
        await self.set_many(session, [(record_id, tags)])

    async def set_many(self, session: AsyncSession, records: list[tuple[uuid.UUID, Iterable[str]]]) -> None:
        """Each record's side rows become its ``tags``: one DELETE and one INSERT for them all."""
        if records:
            await session.execute(delete(self.table).where(self.owner_column.in_([r for r, _ in records])))
            await self.insert(session, records)


class BulkTags(BaseModel):
    """Tags added to and removed from up to 1,000 records at once."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"ids": ["0193b1d2-7c1e-7b35-9f0e-2a51c3d4e5f6"], "add": ["vip"], "remove": ["trial"]}]
        },
    )

    ids: list[uuid.UUID] = Field(min_length=1, max_length=MAX_BATCH)
    add: TagList = Field(default_factory=list)
    remove: TagList = Field(default_factory=list)

    @model_validator(mode="after")
    def _something_to_do(self) -> BulkTags:
        if not self.add and not self.remove:
            raise ValueError("add or remove at least one tag")
        both = set(self.add) & set(self.remove)
        if both:
            raise ValueError(f"a tag is either added or removed: {', '.join(sorted(both))}")
        return self

    def applied(self, tags: Iterable[str]) -> list[str]:
        return normalise((set(tags) | set(self.add)) - set(self.remove))


async def locked_by_id(session: AsyncSession, model: type[Any], ids: list[uuid.UUID]) -> dict[uuid.UUID, Any]:
    """The rows of ``model`` with these ``ids``, locked for the change in id order (so that two bulk
    changes never wait on each other crosswise; SQLite renders no lock), by id: a bulk tagging's
    ``load`` (the caller keeps the ones its principal may see)."""
    stmt = select(model).where(model.id.in_(ids)).order_by(model.id).with_for_update()
    return {row.id: row for row in (await session.scalars(stmt)).all()}


async def bulk_tag(
    body: BulkTags,
    resource: str,
    load: Callable[[list[uuid.UUID]], Awaitable[Mapping[uuid.UUID, R]]],
    change: Callable[[R, list[str]], Awaitable[None]],
    tags_of: Callable[[R], list[str]] = lambda record: list(record.tags),  # type: ignore[attr-defined]
) -> tuple[int, BatchUpsertResult]:
    """Tags ``body.ids``: ``load`` returns the records the caller may see, locked for update;
    ``change(record, tags)`` is the service's update use case with the record's new tags (it checks
    every rule before it writes anything, and publishes the record's event). A record named twice
    is tagged once: the later mention fails."""
    outcomes = Outcomes(len(body.ids))
    first: dict[uuid.UUID, int] = {}
    for index, record_id in enumerate(body.ids):
        seen = first.setdefault(record_id, index)
        if seen != index:
            outcomes.fail(index, InvalidInput("ids", f"names the same record as ids[{seen}]"), record_id)
    records = await load(sorted(first))
    for record_id, index in first.items():
        record = records.get(record_id)
        if record is None:
            outcomes.fail(index, NotFound(resource, record_id), record_id)
            continue
        before = normalise(tags_of(record))
        after = body.applied(before)
        if after == before:
            outcomes.ok(index, "unchanged", record_id)
            continue
        if len(after) > MAX_TAGS:
            outcomes.fail(index, InvalidInput("tags", f"a record has at most {MAX_TAGS} tags"), record_id)
            continue
        try:
            await change(record, after)
        except DomainError as exc:
            outcomes.fail(index, exc, record_id)
        else:
            outcomes.ok(index, "updated", record_id)
    return outcomes.result()


# --- migrations (alembic) -------------------------------------------------------------------------


def add_tags_migration(owner_table: str, name: str, owner_column: str) -> None:
    """``owner_table.tags`` (JSON, ``[]`` for the rows there are) and the side table ``name``."""
    json = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
    with op.batch_alter_table(owner_table, schema=None) as batch_op:
        batch_op.add_column(sa.Column("tags", json, nullable=False, server_default="[]"))
    op.create_table(
        name,
        sa.Column(owner_column, sa.Uuid(), nullable=False),
        sa.Column("tag", sa.String(length=50), nullable=False),
        sa.ForeignKeyConstraint(
            [owner_column],
            [f"{owner_table}.id"],
            name=op.f(f"fk_{name}_{owner_column}_{owner_table}"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(owner_column, "tag", name=op.f(f"pk_{name}")),
    )
    op.create_index(f"ix_{name}_tag_{owner_column}", name, ["tag", owner_column], unique=False)


def drop_tags_migration(owner_table: str, name: str, owner_column: str) -> None:
    op.drop_index(f"ix_{name}_tag_{owner_column}", table_name=name)
    op.drop_table(name)
    with op.batch_alter_table(owner_table, schema=None) as batch_op:
        batch_op.drop_column("tags")


# --- the bulk endpoint's documentation, the same for every resource -------------------------------

BULK_RESPONSES: dict[int | str, dict[str, Any]] = {
    207: {"model": BatchUpsertResult, "description": "some records failed: each one's problem is in its result"}
}


def bulk_description(resource: str) -> str:
    return (
        f"Adds the tags of `add` to and removes those of `remove` from each of up to 1,000 {resource} "
        "(`ids`). Each record is tagged on its own, under the rules of a single PATCH (the caller "
        "must be allowed to change it): the answer lists, per position in `ids`, `updated` or "
        "`unchanged` with the id, or `error` with the problem (a missing record and one the caller "
        "may not see are both 404). 200 when every record succeeded, 207 otherwise. Each changed "
        "record publishes its `updated` event, with `changes.tags`."
    )
