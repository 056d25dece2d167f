"""Engines of one process share a connected dialect, and so its compiled statements
(tessera_shared.db.engines._share_dialect), on both databases."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, select, text
from sqlalchemy.engine.default import CACHE_HIT, CACHE_MISS
from sqlalchemy.ext.asyncio import AsyncEngine

from tessera_shared.db import create_engine, engines
from tessera_shared.testing.databases import DatabaseFactory

pytestmark = pytest.mark.sqlite


async def test_a_new_engine_reuses_what_an_earlier_one_compiled(databases: DatabaseFactory, backend: str) -> None:
    # A table no other test has, so the first engine's statement cannot be in the cache yet.
    table = Table(f"t_{uuid.uuid4().hex[:12]}", MetaData(), Column("id", Integer, primary_key=True))
    statement = select(table.c.id).where(table.c.id > 1)
    hits = []
    made: list[AsyncEngine] = []
    try:
        for _ in range(2):  # the second made once the first has connected
            made.append(engine := create_engine(await databases.empty(backend)))
            async with engine.begin() as conn:
                await conn.run_sync(table.metadata.create_all)
                result = await conn.execute(statement)
                hits.append(result.context.cache_hit)
        assert hits == [CACHE_MISS, CACHE_HIT]
        assert made[1].sync_engine.dialect is made[0].sync_engine.dialect
    finally:
        for engine in made:
            await engine.dispose()


async def test_a_dialect_that_never_connected_is_not_shared(
    databases: DatabaseFactory, backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(engines, "_DIALECTS", {})  # as in a process that has made no engine yet
    idle = create_engine(await databases.empty(backend))  # made, never connected
    used = create_engine(await databases.empty(backend))
    try:
        async with used.connect() as conn:
            assert (await conn.execute(text("SELECT 1"))).scalar() == 1
        assert used.sync_engine.dialect.server_version_info is not None
    finally:
        await idle.dispose()
        await used.dispose()
