"""tessera_shared.db.bulk.insert_many: one statement for many rows (unnest arrays on PostgreSQL),
storing what a Core multi-row INSERT of the same rows stores."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import JSON, Column, Integer, String, Table, Uuid, insert, select
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tessera_shared.db import Money, UTCDateTime, create_engine, new_metadata, session_factory
from tessera_shared.db.bulk import insert_many
from tessera_shared.testing.databases import DatabaseFactory

pytestmark = pytest.mark.sqlite

metadata = new_metadata()
things = Table(
    "things",
    metadata,
    Column("id", Uuid, primary_key=True, default=uuid.uuid4),
    Column("key", String(20), unique=True),
    Column("name", String(50), nullable=False),
    Column("tags", JSON, nullable=False),
    Column("extra", JSON, nullable=True),
    Column("at", UTCDateTime, nullable=False),
    Column("amount", Money, nullable=False),
    Column("count", Integer, nullable=True),
    Column("level", Integer, nullable=False, default=3),  # a Python-side default only
)


@pytest.fixture
async def sessions(databases: DatabaseFactory, backend: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(await databases.empty(backend))
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    yield session_factory(engine)
    await engine.dispose()


def row(n: int, **over: Any) -> dict[str, Any]:
    values = {
        "id": uuid.UUID(int=n),
        "key": f"k{n}",
        "name": f"thing {n}",
        "tags": ["a", f"t{n}"],
        "extra": {"n": n, "nested": [1, None]} if n % 2 else None,
        "at": datetime(2026, 1, 1, 12, n % 60, tzinfo=UTC),
        "amount": Decimal("12.3400") + n,
        "count": n if n % 3 else None,
    }
    return values | over


async def stored(sessions: async_sessionmaker[AsyncSession]) -> list[tuple[Any, ...]]:
    async with sessions() as s:
        return [tuple(r) for r in (await s.execute(select(things).order_by(things.c.key))).all()]


async def test_it_stores_what_a_core_insert_stores(sessions: async_sessionmaker[AsyncSession]) -> None:
    # JSON values orjson writes (on PostgreSQL) and ones it leaves to the type's json.dumps (an
    # int key, an int past 64 bits) are stored alike.
    odd = [{1: "int key"}, {"big": 2**70, "f": 0.1, "s": '\u00fc\u2028"<'}]
    rows = [row(n) for n in range(1, 8)] + [row(8 + i, extra=extra) for i, extra in enumerate(odd)]
    async with sessions.begin() as s:
        await s.execute(insert(things), rows)
    expected = await stored(sessions)
    async with sessions.begin() as s:
        await s.execute(things.delete())
    async with sessions.begin() as s:
        assert await insert_many(s, things, rows) == []
    assert await stored(sessions) == expected
    assert expected[0][3] == ["a", "t1"] and expected[0][4] == {"n": 1, "nested": [1, None]}
    assert [r[4] for r in expected[-2:]] == [{"1": "int key"}, odd[1]]
    assert {r[-1] for r in expected} == {3}  # the column's default, as the Core insert gives it


async def test_a_default_computed_per_row_is_computed_for_each(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions.begin() as s:
        await insert_many(s, things, [{k: v for k, v in row(n).items() if k != "id"} for n in (1, 2)])
    ids = [r[0] for r in await stored(sessions)]
    assert len(set(ids)) == 2 and all(isinstance(i, uuid.UUID) for i in ids)


async def test_conflicts_are_skipped_and_only_the_inserted_rows_are_returned(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions.begin() as s:
        await insert_many(s, things, [row(1), row(2)])
    async with sessions.begin() as s:
        ids = await insert_many(
            s, things, [row(3), row(4, key="k1"), row(5)], skip_conflicts_on=["key"], returning="id"
        )
    assert sorted(ids) == [uuid.UUID(int=3), uuid.UUID(int=5)]
    assert [r[1] for r in await stored(sessions)] == ["k1", "k2", "k3", "k5"]
    assert (await stored(sessions))[0][2] == "thing 1"  # the earlier row stands


async def test_a_bad_row_fails_the_statement_as_a_core_insert_does(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as s:
        with pytest.raises(IntegrityError):
            await insert_many(s, things, [row(1), row(2, name=None)])
    assert await stored(sessions) == []
    if sessions.kw["bind"].dialect.name == "postgresql":  # SQLite keeps over-long text
        async with sessions() as s:
            with pytest.raises(DBAPIError):
                await insert_many(s, things, [row(1, name="x" * 51)])


async def test_columns_null_in_every_row_store_what_a_core_insert_stores(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """A nullable column None in every row is left out of the statement (NULL all the same); a
    JSON one (None may be JSON null) and one with a default are not: the stored rows are the
    Core insert's."""
    rows = [row(n, key=None, count=None, extra=None) for n in range(1, 5)]
    async with sessions.begin() as s:
        await s.execute(insert(things), rows)
    expected = sorted(await stored(sessions))  # by id: every key is NULL
    async with sessions.begin() as s:
        await s.execute(things.delete())
    async with sessions.begin() as s:
        await insert_many(s, things, rows, returning="id")
    assert sorted(await stored(sessions)) == expected
    assert {(r[1], r[4], r[7], r[8]) for r in expected} == {(None, None, None, 3)}
