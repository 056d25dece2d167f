"""Engines and session makers for PostgreSQL (asyncpg, a steady pool) and SQLite (aiosqlite, WAL)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import event, make_url
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from tessera_shared.db.sessions import READ_ONLY


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


@dataclass(frozen=True, slots=True)
class SessionLimits:
    """What every PostgreSQL session of a service is held to (0 turns a limit off).

    ``statement_timeout``: a statement running longer is cancelled (long legitimate work sets
    ``SET LOCAL statement_timeout = 0`` in its transaction, as migrations do).
    ``idle_in_transaction_timeout``: a session that keeps a transaction open without a statement
    for that long is ended by the server, so a frozen or partitioned replica does not hold row
    locks for hours. ``keepalives_*``: the server probes a silent client's TCP connection after
    ``keepalives_idle`` seconds, every ``keepalives_interval``, and drops it after
    ``keepalives_count`` unanswered probes (~25 s with the defaults), which ends the session and
    frees what it held when a pod is cut off from the network.
    """

    statement_timeout: float = 30.0
    idle_in_transaction_timeout: float = 60.0
    keepalives_idle: int = 10
    keepalives_interval: int = 5
    keepalives_count: int = 3

    def server_settings(self) -> dict[str, str]:
        """asyncpg's ``server_settings``: sent at connect, in force for the whole session."""
        return {
            "statement_timeout": str(int(self.statement_timeout * 1000)),
            "idle_in_transaction_session_timeout": str(int(self.idle_in_transaction_timeout * 1000)),
            "tcp_keepalives_idle": str(self.keepalives_idle),
            "tcp_keepalives_interval": str(self.keepalives_interval),
            "tcp_keepalives_count": str(self.keepalives_count),
        }


def create_engine(
    url: str, *, pool_size: int = 10, echo: bool = False, limits: SessionLimits | None = None
) -> AsyncEngine:
    """An engine for ``url``; on PostgreSQL its sessions are held to ``limits`` (none if None)."""
    if is_sqlite(url):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = _share_dialect(url, create_async_engine(url, echo=echo, connect_args={"timeout": 30}))

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            # WAL lets readers run beside the single writer; foreign keys are off by default.
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            # Deleted and overwritten content is zeroed, not left in free space (erasures, db/shred.py).
            cur.execute("PRAGMA secure_delete=ON")
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
    return _share_dialect(
        url,
        create_async_engine(
            url,
            echo=echo,
            pool_size=pool_size,
            max_overflow=0,
            pool_timeout=10,
            pool_pre_ping=False,
            pool_recycle=1800,
            connect_args=_connect_args(url, limits),
        ),
    )


# An initialised dialect per driver and server (the first to connect), with its compiled statements.
_DIALECTS: dict[tuple[str, str, int | None], tuple[Dialect, Any]] = {}


def _share_dialect(url: str, engine: AsyncEngine) -> AsyncEngine:
    """``engine`` with the dialect, and so the cache of compiled SQL, of the first engine of this
    process that connected to the same driver and server.

    SQLAlchemy keys a compiled statement by its dialect object and keeps the cache per engine:
    every new engine compiled each statement again (~0.5 ms of CPU a statement on average). A
    service process has one or two engines, but the test suite makes one per test (a fresh
    database each): sharing took a service test file's SQL compilation from 6,908 statements
    (3.75 CPU-s) to 2,403 (0.97). The dialect holds what it read from the server at its first
    connect (version, settings), the same for every database of one server, so only a dialect
    that has connected is shared; a new engine still runs its own first-connect checks.
    """
    parsed = make_url(url)
    key = (parsed.drivername, parsed.host or "", parsed.port)
    sync = engine.sync_engine
    shared = _DIALECTS.get(key)
    if shared is not None:
        sync.dialect, sync._compiled_cache = shared
        sync.pool._dialect = shared[0]
        return engine

    # Listened after the engine's own first-connect handler, which initialises its dialect.
    @event.listens_for(sync.pool, "connect", once=True)
    def _initialised(_dbapi_conn: Any, _record: Any) -> None:
        _DIALECTS.setdefault(key, (sync.dialect, sync._compiled_cache))

    return engine


def _connect_args(url: str, limits: SessionLimits | None) -> dict[str, Any]:
    args = _loopback_without_tls(url)
    if limits is not None:
        args["server_settings"] = limits.server_settings()
    return args


def _loopback_without_tls(url: str) -> dict[str, Any]:
    """asyncpg tries TLS first ("prefer"); on loopback that is a wasted round trip per connect."""
    host = make_url(url).host or ""
    query = make_url(url).query
    if host in ("127.0.0.1", "localhost", "::1") and "ssl" not in query and "sslmode" not in query:
        return {"ssl": False}
    return {}


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)
