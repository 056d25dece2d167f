"""Sessions: read-only sessions (autocommit or one snapshot) and the unit of work."""

from __future__ import annotations

import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import ORMExecuteState, Session

READ_ONLY = "tessera_read_only"


class ReadOnlySessionError(RuntimeError):
    """A write attempted in a read session (a GET route that writes must ask for a write session)."""


# Per session maker, the read session makers made beside it (one per snapshot flag).
_READ_MAKERS: weakref.WeakKeyDictionary[
    async_sessionmaker[AsyncSession], dict[bool, async_sessionmaker[AsyncSession]]
] = weakref.WeakKeyDictionary()


def _read_sessions(factory: async_sessionmaker[AsyncSession], snapshot: bool) -> async_sessionmaker[AsyncSession]:
    """A session maker for reads beside ``factory``: the same pool, the read options set once on
    the engine (per checkout they cost a greenlet round of their own, ~60 us a read)."""
    cache = _READ_MAKERS.setdefault(factory, {})
    maker = cache.get(snapshot)
    if maker is None:
        engine: AsyncEngine = factory.kw["bind"]
        options: dict[str, Any] = {READ_ONLY: True}
        if engine.dialect.name == "postgresql":
            options |= (
                {"isolation_level": "REPEATABLE READ", "postgresql_readonly": True}
                if snapshot
                else {"isolation_level": "AUTOCOMMIT"}
            )
        bind = engine.execution_options(**options)
        info = {**factory.kw.get("info", {}), READ_ONLY: True}  # what the write guards below check
        maker = cache[snapshot] = async_sessionmaker(
            **{**factory.kw, "bind": bind, "info": info}, class_=factory.class_
        )
    return maker


@asynccontextmanager
async def read_session(
    factory: async_sessionmaker[AsyncSession],
    *,
    snapshot: bool = False,
) -> AsyncIterator[AsyncSession]:
    """A session for reads only; any ORM write raises ReadOnlySessionError before it reaches SQL.

    On PostgreSQL its statements run in autocommit: no BEGIN and COMMIT round trips (at READ
    COMMITTED each statement saw its own snapshot anyway). ``snapshot=True`` buys one REPEATABLE
    READ read-only transaction instead, for a read whose statements must agree with each other.
    On SQLite a deferred transaction, one snapshot either way. Closing the session returns the
    connection to the pool, rolled back."""
    async with _read_sessions(factory, snapshot)() as session:
        yield session


@asynccontextmanager
async def read_connection(factory: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncConnection]:
    """A connection of the read sessions' pool and options (autocommit on PostgreSQL), for a Core
    read that needs no ORM session: no unit of work, identity map or session events. Returned
    rolled back."""
    async with _read_sessions(factory, False).kw["bind"].connect() as conn:
        yield conn


@event.listens_for(Session, "before_flush")
def _refuse_flush_when_read_only(session: Session, _context: Any, _instances: Any) -> None:
    if session.info.get(READ_ONLY) and (session.new or session.dirty or session.deleted):
        raise ReadOnlySessionError("write attempted in a read-only session")


@event.listens_for(Session, "do_orm_execute")
def _refuse_dml_when_read_only(state: ORMExecuteState) -> None:
    if state.session.info.get(READ_ONLY) and (state.is_insert or state.is_update or state.is_delete):
        raise ReadOnlySessionError("write attempted in a read-only session")


@asynccontextmanager
async def unit_of_work(factory: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """One transaction: committed once at the end, rolled back on any error."""
    async with factory() as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise
