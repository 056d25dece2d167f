"""Async database access that runs the same code on PostgreSQL (asyncpg) and SQLite (aiosqlite)."""

from __future__ import annotations

import os
import threading
import time
import typing
import uuid
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import JSON, CursorResult, Float, Integer, MetaData, String, Table, cast, event, func, make_url
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import ORMExecuteState, Session
from sqlalchemy.sql.dml import UpdateBase
from sqlalchemy.types import DateTime, Numeric, TypeDecorator
from sqlmodel import SQLModel

# Stable constraint names, so that migrations can drop and alter them on both databases.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def new_metadata() -> MetaData:
    return MetaData(naming_convention=NAMING_CONVENTION)


def dialect_name(session: AsyncSession | Session) -> str:
    """The session's database, ``"postgresql"`` or ``"sqlite"`` (from its bind; no connection is made)."""
    return session.get_bind().dialect.name


def table_of(model: type[SQLModel]) -> Table:
    """A table model's ``Table`` (for Core statements and RowBuffer)."""
    table: Table = model.__table__  # type: ignore[attr-defined]  # set by the mapping; SQLModel does not declare it
    return table


async def affected_rows(session: AsyncSession, statement: UpdateBase) -> int:
    """Run an UPDATE or DELETE; the number of rows it matched.

    Its result is a CursorResult, which has ``rowcount``; ``AsyncSession.execute`` is typed as
    returning the base Result, which has not."""
    result = typing.cast("CursorResult[Any]", await session.execute(statement))
    return result.rowcount


def upsert(session: AsyncSession | Session, entity: Any) -> Any:
    """An INSERT into ``entity`` (a table or a mapped class) that takes ``on_conflict_do_nothing``
    and ``on_conflict_do_update``, in the session's dialect (PostgreSQL or SQLite). With a mapped
    class it is an ORM statement: the session flushes its pending objects first."""
    module = postgresql if dialect_name(session) == "postgresql" else sqlite
    return module.insert(entity)


def utcnow() -> datetime:
    return datetime.now(UTC)


_entropy = threading.local()


def _random_bytes(n: int) -> bytes:
    """os.urandom drawn 4 KiB at a time per thread: one call per id released and re-took the GIL
    (a tenth of a bulk import's main thread waited there while the parsing thread held it)."""
    buf, pos = getattr(_entropy, "buf", b""), getattr(_entropy, "pos", 0)
    if pos + n > len(buf):
        buf, pos = os.urandom(4096), 0
        _entropy.buf = buf
    _entropy.pos = pos + n
    return buf[pos : pos + n]


def new_id() -> uuid.UUID:
    """Time-ordered UUIDv7-style id: keeps B-tree inserts local and sorts by creation."""
    ms = time.time_ns() // 1_000_000
    rand = int.from_bytes(_random_bytes(10)) & ((1 << 74) - 1)
    value = (ms & ((1 << 48) - 1)) << 80 | (0x7 << 76) | ((rand >> 62) << 64) | (0b10 << 62)
    value |= rand & ((1 << 62) - 1)
    return uuid.UUID(int=value)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC on the way in and out; SQLite keeps no zone, so it is restored here."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime refused: use timezone-aware UTC")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Money(TypeDecorator[Decimal]):
    """Exact decimal: NUMERIC on PostgreSQL, text on SQLite (whose NUMERIC is a float)."""

    impl = Numeric(20, 4)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> Any:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(40))
        return dialect.type_descriptor(Numeric(20, 4, asdecimal=True))

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        return str(Decimal(value)) if dialect.name == "sqlite" else Decimal(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        return None if value is None else Decimal(str(value))


class MoneySum:
    """Exact SUM of a Money expression on both databases.

    PostgreSQL sums NUMERIC exactly; SQLite keeps Money as text and would sum it as floats, so
    there each amount is scaled to an integer of 1/10000 units (Money's scale) first.
    """

    SCALE = 10_000

    def __init__(self, session: AsyncSession | Session) -> None:
        self.sqlite = dialect_name(session) == "sqlite"

    def sum(self, expr: Any) -> Any:
        if self.sqlite:
            return func.coalesce(func.sum(cast(func.round(cast(expr, Float) * self.SCALE), Integer)), 0)
        return func.coalesce(func.sum(expr), 0)

    def value(self, raw: Any) -> Decimal:
        if raw is None:
            return Decimal("0")
        if self.sqlite:
            return (Decimal(int(raw)) / self.SCALE).normalize() + Decimal("0.0000")
        return Decimal(str(raw))


# JSON that is JSONB (indexable) on PostgreSQL.
JSONType = JSON().with_variant(JSONB(), "postgresql")


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def create_engine(url: str, *, pool_size: int = 10, echo: bool = False) -> AsyncEngine:
    if is_sqlite(url):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, echo=echo, connect_args={"timeout": 30})

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            # WAL lets readers run beside the single writer; foreign keys are off by default.
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()
            # The sqlite3 module's own transaction handling breaks SAVEPOINT (a RELEASE would
            # commit); take over: no implicit transactions, and BEGIN issued below.
            dbapi_conn.isolation_level = None

        @event.listens_for(engine.sync_engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            # IMMEDIATE takes the write lock up front: a deferred transaction that later writes
            # can fail at once with "database is locked" instead of waiting its turn. A read
            # (read_session) begins deferred: in WAL mode it then never waits for the writer.
            read = conn.get_execution_options().get(READ_ONLY, False)
            conn.exec_driver_sql("BEGIN" if read else "BEGIN IMMEDIATE")

        return engine
    # A steady pool without overflow: connections are kept, not opened per burst (an overflow
    # connection is closed when returned, so a burst pays a backend start, a handshake and
    # statement preparation per request; profiled at ~5% of a GET). A burst queues instead. No
    # pre-ping round trip per checkout: a dead connection is detected by its error, invalidated,
    # and the pool replaced; consumers retry such errors, requests fail once.
    return create_async_engine(
        url,
        echo=echo,
        pool_size=pool_size,
        max_overflow=0,
        pool_timeout=10,
        pool_pre_ping=False,
        pool_recycle=1800,
        connect_args=_loopback_without_tls(url),
    )


def _loopback_without_tls(url: str) -> dict[str, Any]:
    """asyncpg tries TLS first ("prefer"); on loopback that is a wasted round trip per connect."""
    host = make_url(url).host or ""
    query = make_url(url).query
    if host in ("127.0.0.1", "localhost", "::1") and "ssl" not in query and "sslmode" not in query:
        return {"ssl": False}
    return {}


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)


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
