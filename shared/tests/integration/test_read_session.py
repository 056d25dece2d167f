"""Reads run without transaction round trips and refuse writes; GET routes get such a session."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import insert, select, text, update
from sqlalchemy.orm import registry

from tessera_shared.db import ReadOnlySessionError, read_session, unit_of_work
from tessera_shared.deps import SessionDep

from .conftest import effects


class Effect:
    """An ORM mapping of the test table, for the flush case."""

    def __init__(self, **values: object) -> None:
        for name, value in values.items():
            setattr(self, name, value)


registry().map_imperatively(Effect, effects)


async def test_a_read_session_reads_what_was_committed(sessions) -> None:
    async with unit_of_work(sessions) as s:
        await s.execute(insert(effects).values(ping_no=1, label="one"))
    async with read_session(sessions) as s:
        assert (await s.execute(select(effects.c.label))).scalars().all() == ["one"]


async def test_postgres_reads_need_no_transaction_round_trips(databases) -> None:
    from tessera_shared import infra_tables
    from tessera_shared.db import create_engine, session_factory

    from .conftest import effects_metadata

    engine = create_engine(await databases.empty("postgres"))
    async with engine.begin() as conn:
        await conn.run_sync(infra_tables.metadata.create_all)
        await conn.run_sync(effects_metadata.create_all)
    sessions = session_factory(engine)
    try:
        # Each statement its own transaction: two statements see two transaction ids.
        xid = text("SELECT txid_current()")
        async with read_session(sessions) as s:
            assert (await s.execute(xid)).scalar() != (await s.execute(xid)).scalar()
        async with unit_of_work(sessions) as s:
            assert (await s.execute(xid)).scalar() == (await s.execute(xid)).scalar()
        # The connection returns to the pool as a normal transactional one.
        async with unit_of_work(sessions) as s:
            await s.execute(insert(effects).values(ping_no=2, label="two"))
            await s.execute(insert(effects).values(ping_no=3, label="boom"))
            await s.rollback()
        async with read_session(sessions) as s:
            assert (await s.execute(select(effects.c.id))).all() == []
    finally:
        await engine.dispose()


@pytest.mark.parametrize("write", ["core insert", "core update", "orm flush"])
async def test_a_read_session_refuses_writes(sessions, write: str) -> None:
    async with unit_of_work(sessions) as s:
        await s.execute(insert(effects).values(ping_no=1, label="kept"))
    with pytest.raises(ReadOnlySessionError):
        async with read_session(sessions) as s:
            if write == "core insert":
                await s.execute(insert(effects).values(ping_no=2, label="written"))
            elif write == "core update":
                await s.execute(update(effects).values(label="changed"))
            else:
                s.add(Effect(ping_no=3, label="added"))
                await s.flush()
    async with read_session(sessions) as s:
        assert (await s.execute(select(effects.c.ping_no, effects.c.label))).all() == [(1, "kept")]


async def test_get_routes_get_a_read_session_and_others_a_transaction(sessions) -> None:
    from types import SimpleNamespace

    app = FastAPI()
    app.state.runtime = SimpleNamespace(sessions=sessions)

    @app.get("/write-in-get")
    async def write_in_get(session: SessionDep) -> dict[str, str]:
        await session.execute(insert(effects).values(ping_no=9, label="from GET"))
        return {"ok": "yes"}

    @app.post("/write")
    async def write(session: SessionDep) -> dict[str, str]:
        await session.execute(insert(effects).values(ping_no=10, label="from POST"))
        return {"ok": "yes"}

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        assert (await client.get("/write-in-get")).status_code == 500
        assert (await client.post("/write")).status_code == 200
    async with read_session(sessions) as s:
        assert (await s.execute(select(effects.c.label))).scalars().all() == ["from POST"]


async def test_a_snapshot_read_sees_one_snapshot_and_writes_nothing(sessions) -> None:
    async with unit_of_work(sessions) as s:
        await s.execute(insert(effects).values(ping_no=1, label="before"))
    async with read_session(sessions, snapshot=True) as s:
        assert (await s.execute(select(effects.c.label))).scalars().all() == ["before"]
        # A row committed by another transaction meanwhile is not in this read's snapshot.
        async with unit_of_work(sessions) as other:
            await other.execute(insert(effects).values(ping_no=2, label="meanwhile"))
        assert (await s.execute(select(effects.c.label))).scalars().all() == ["before"]
        with pytest.raises(ReadOnlySessionError):
            await s.execute(insert(effects).values(ping_no=3, label="written"))
    async with read_session(sessions) as s:
        assert sorted((await s.execute(select(effects.c.label))).scalars().all()) == ["before", "meanwhile"]
    # The pooled connections went back as ordinary transactional ones.
    async with unit_of_work(sessions) as s:
        await s.execute(insert(effects).values(ping_no=4, label="rolled back"))
        await s.rollback()
    async with read_session(sessions) as s:
        assert sorted((await s.execute(select(effects.c.ping_no))).scalars().all()) == [1, 2]
