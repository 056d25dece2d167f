"""Sliding-window counters that every gateway replica shares, in the gateway's database.

A limit of ``limit`` per ``window`` seconds counts in slices of ``window / SLICES``: one row per
key and slice in ``rate_counters`` (key, slice start, count, expiry; epoch milliseconds). A take
is admitted when the current slice and the ``SLICES`` slices before it hold fewer than ``limit``,
and then counts in the current slice. Any interval as long as the window lies within such
``SLICES + 1`` slices, so it admits at most ``limit``, whichever replica answered and however the
requests were timed. What that costs: a slice that has begun to leave the window still counts in
full until it has left, so a caller who keeps to the limit may wait up to one slice (1/SLICES of
the window, 3 s of a minute) longer than an exact sliding log would make them.

On PostgreSQL a take is one statement: it sums the key's other slices and increments the
current slice's row only while the total stays within the limit (``INSERT ... ON CONFLICT DO
UPDATE ... WHERE``). It runs on a small asyncpg pool of its own (POOL_SIZE
connections a replica), without SQLAlchemy's checkout and execution, which cost more than the
statement itself (measured in docs/operations.md, "Limits shared by the gateway replicas").
On SQLite the same two steps run in one ``BEGIN IMMEDIATE`` transaction (SQLite has one
writer at a time). A refused take counts nothing.

On PostgreSQL the takes of one key are serialised by a transaction-scoped advisory lock, taken
in the same call (the function ``rate_counters_take``, one round trip in autocommit): without it
a take counting in a new slice could miss one still in flight in the previous slice, and
replicas would together admit a few more than the limit at each slice boundary.

Rows are purged once expired (``purge``, a job of the gateway). Times come from each replica's
clock (kept by NTP): a take counts every slice of the key from the window's start on, also
"later" ones a replica whose clock is ahead wrote, so a skew shifts slice boundaries, not counts.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
from sqlalchemy import delete, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlmodel import col

from tessera_gateway.models import RateCounter
from tessera_shared.db import affected_rows

SLICES = 20
# rate_counters.key's length (models.py).
KEY_LENGTH = 300
# Connections of the PostgreSQL limiter pool, per gateway process (beside the engine's pool).
POOL_SIZE = 4

_PG_TAKE = "SELECT out_used, out_oldest, out_n FROM rate_counters_take($1, $2, $3, $4, $5, $6)"
_PG_SLICES_OF = "SELECT start, n FROM rate_counters WHERE key = $1 AND start >= $2 ORDER BY start"
_PG_GIVE_BACK = "UPDATE rate_counters SET n = n - 1 WHERE key = $1 AND start = $2 AND n > 0"
_PG_CLEAR = "DELETE FROM rate_counters WHERE key = ANY($1::varchar[])"

_SQLITE_PRIOR = text(
    "SELECT coalesce(sum(n), 0) AS used, min(start) AS oldest FROM rate_counters "
    "WHERE key = :key AND start >= :first AND start <> :cur"
)

_SQLITE_BUMP = text(
    "INSERT INTO rate_counters (key, start, n, expires) VALUES (:key, :cur, 1, :expires) "
    "ON CONFLICT (key, start) DO UPDATE SET n = rate_counters.n + 1 "
    "WHERE rate_counters.n + :used < :limit RETURNING n"
)

_SLICES_OF = text("SELECT start, n FROM rate_counters WHERE key = :key AND start >= :first ORDER BY start")


@dataclass(frozen=True)
class Decision:
    """The answer to one take, with what the IETF RateLimit fields report."""

    allowed: bool
    limit: int
    window: int  # seconds
    remaining: int  # takes left now (after this one)
    reset: float  # seconds until some of the quota comes back (the oldest counted slice leaves)
    retry_after: float  # seconds until a take would be admitted again; 0 when allowed
    start: int  # the slice this take counted in (epoch ms), for give_back


@dataclass(frozen=True)
class _Span:
    """Where a take at ``now`` looks, all in epoch milliseconds."""

    now: int
    cur: int  # the current slice's start
    first: int  # the oldest counted slice's start
    slice: int  # one slice's length
    window: int

    @classmethod
    def at(cls, now_s: float, window_s: int) -> _Span:
        window = window_s * 1000
        length = max(1, window // SLICES)
        now = int(now_s * 1000)
        cur = now - now % length
        return cls(now=now, cur=cur, first=cur - SLICES * length, slice=length, window=window)

    def leaves(self, start: int) -> float:
        """Seconds from now until the slice at ``start`` no longer counts."""
        return max(0.0, (start + (SLICES + 1) * self.slice - self.now) / 1000)

    @property
    def expires(self) -> int:
        return self.cur + (SLICES + 1) * self.slice


class SlidingWindows:
    def __init__(self, engine: AsyncEngine, clock: Callable[[], float] = time.time) -> None:
        self._engine = engine
        self._postgres = engine.dialect.name == "postgresql"
        self._clock = clock
        self._pool: asyncpg.Pool | None = None
        self._opening = asyncio.Lock()

    async def _connections(self) -> asyncpg.Pool:
        if self._pool is None:
            async with self._opening:
                if self._pool is None:
                    self._pool = await asyncpg.create_pool(
                        min_size=1,
                        max_size=POOL_SIZE,
                        reset=_no_reset,  # only autocommit statements run here: nothing to reset
                        command_timeout=5,
                        # A count need not wait for its WAL flush: a crash of PostgreSQL forgets at
                        # most the last fraction of a second of counts (never admits a refused one).
                        server_settings={"synchronous_commit": "off"},
                        **_asyncpg_params(self._engine),
                    )
        return self._pool

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    async def take(self, key: str, limit: int, window: int) -> Decision:
        """Count one unit for ``key`` if fewer than ``limit`` were counted within ``window`` seconds."""
        key = bounded(key)
        span = _Span.at(self._clock(), window)
        if self._postgres:
            async with (await self._connections()).acquire() as conn:
                # One call (migration a93f51c0d2b4): the key's advisory lock, then the take with a
                # snapshot of its own, so it sees every earlier take of the key, also one still
                # counting in the previous slice. One take per key at a time, across replicas.
                used, oldest, n = await conn.fetchrow(
                    _PG_TAKE, key, span.first, span.cur, span.expires, limit, _lock_id(key)
                )
                if n is None:
                    rows = await conn.fetch(_PG_SLICES_OF, key, span.first)
                    return _refused([(r[0], r[1]) for r in rows], limit, span)
        else:
            params: dict[str, Any] = {"key": key, "first": span.first, "cur": span.cur, "expires": span.expires}
            async with self._engine.begin() as sa_conn:
                used, oldest = (await sa_conn.execute(_SQLITE_PRIOR, params)).one()
                n = None
                if used < limit:
                    n = (await sa_conn.execute(_SQLITE_BUMP, {**params, "used": used, "limit": limit})).scalar()
                if n is None:
                    rows = (await sa_conn.execute(_SLICES_OF, {"key": key, "first": span.first})).all()
                    return _refused([(r[0], r[1]) for r in rows], limit, span)
        return Decision(
            allowed=True,
            limit=limit,
            window=window,
            remaining=max(0, limit - used - n),
            reset=span.leaves(span.cur if oldest is None else oldest),
            retry_after=0.0,
            start=span.cur,
        )

    async def give_back(self, key: str, start: int) -> None:
        """Undo one admitted take (counted in the slice at ``start``)."""
        key = bounded(key)
        if self._postgres:
            async with (await self._connections()).acquire() as conn:
                await conn.execute(_PG_GIVE_BACK, key, start)
            return
        async with self._engine.begin() as sa_conn:
            await sa_conn.execute(
                text("UPDATE rate_counters SET n = n - 1 WHERE key = :key AND start = :start AND n > 0"),
                {"key": key, "start": start},
            )

    async def clear(self, keys: Iterable[str]) -> None:
        """Forget everything counted for ``keys``."""
        keys = [bounded(k) for k in keys]
        if self._postgres:
            async with (await self._connections()).acquire() as conn:
                await conn.execute(_PG_CLEAR, list(keys))
            return
        async with self._engine.begin() as sa_conn:
            await sa_conn.execute(delete(RateCounter).where(col(RateCounter.key).in_(list(keys))))


def _lock_id(key: str) -> int:
    """The advisory lock that serialises one key's takes (64 bits of a hash, as PostgreSQL's bigint)."""
    return int.from_bytes(hashlib.sha256(f"tessera-rate:{key}".encode()).digest()[:8], "big", signed=True)


def bounded(key: str) -> str:
    """The key as stored: at most KEY_LENGTH characters (a longer one ends in its hash)."""
    if len(key) <= KEY_LENGTH:
        return key
    return f"{key[: KEY_LENGTH - 65]}#{hashlib.sha256(key.encode()).hexdigest()}"


def _refused(rows: list[tuple[int, int]], limit: int, span: _Span) -> Decision:
    """A refusal, with the wait until enough of what ``rows`` counted (oldest first) has left."""
    total = sum(n for _, n in rows)
    wait = span.leaves(span.cur)
    for start, n in rows:
        total -= n
        if total < limit:
            wait = span.leaves(start)
            break
    return Decision(
        allowed=False,
        limit=limit,
        window=span.window // 1000,
        remaining=0,
        reset=span.leaves(rows[0][0] if rows else span.cur),
        retry_after=wait,
        start=span.cur,
    )


async def _no_reset(_conn: asyncpg.Connection) -> None:
    return None


def _asyncpg_params(engine: AsyncEngine) -> dict[str, Any]:
    """asyncpg's connect arguments for the engine's database (as SQLAlchemy derives them)."""
    _, params = engine.dialect.create_connect_args(engine.url)
    for own in ("prepared_statement_cache_size", "prepared_statement_name_func", "async_creator_fn"):
        params.pop(own, None)
    if params.get("host") in ("127.0.0.1", "localhost", "::1") and "ssl" not in params and "sslmode" not in params:
        params["ssl"] = False  # as the engine: no TLS attempt on loopback
    return dict(params)


def retry_after_header(seconds: float) -> str:
    """Whole seconds, rounded up, at least 1 (Retry-After has no fractions)."""
    return str(max(1, math.ceil(seconds)))


async def purge(sessions: async_sessionmaker[AsyncSession], now: datetime) -> int:
    """Delete the rows that no longer count anywhere (a job: safe to run again, on any replica)."""
    async with sessions() as session, session.begin():
        return await affected_rows(
            session, delete(RateCounter).where(col(RateCounter.expires) < int(now.timestamp() * 1000))
        )
