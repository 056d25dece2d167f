"""Leadership of one named piece of work across the replicas of a service, with a lease and fencing.

A replica holds the lease ``name`` until ``expires_at`` unless it renews it; the expiry is taken
from the database's clock (``now()`` on PostgreSQL), so replicas' clocks do not matter. A holder
that stops renewing (frozen by a long pause, a hung node, a pod cut off from the network) is
replaced once its lease expired: another replica's acquire succeeds and the ``token`` grows.
The token is the fencing token: a holder's writes that must not come from a stale holder carry
``fence()``, a condition true only while the lease row still names this holder with its token,
so a holder that wakes up after being replaced finds its writes refused (0 rows).

On SQLite (one process) the same statements run with the process's clock bound in.
"""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, bindparam, case, exists, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tessera_shared.db import UTCDateTime, affected_rows, dialect_name, upsert, utcnow
from tessera_shared.infra_tables import leases

# A replica's own validity ends this much before the lease's expiry on the database.
_MARGIN = 0.5


def new_holder(role: str) -> str:
    """A holder id, unique per lease user and telling where it runs (host, pid)."""
    return f"{socket.gethostname()[:100]}:{os.getpid()}:{role}:{uuid.uuid4().hex[:8]}"


def db_now(session: AsyncSession) -> Any:
    """The database's clock (PostgreSQL), or this process's (SQLite: one process only)."""
    if dialect_name(session) == "postgresql":
        return func.now()
    return bindparam("now", utcnow(), type_=UTCDateTime())


def db_later(session: AsyncSession, seconds: float) -> Any:
    """``seconds`` after ``db_now``."""
    if dialect_name(session) == "postgresql":
        return func.now() + timedelta(seconds=seconds)
    return bindparam("later", utcnow() + timedelta(seconds=seconds), type_=UTCDateTime())


class LeaseLost(Exception):
    """This replica no longer holds the lease: another took over (or it was never held)."""


class Lease:
    """One replica's handle on the lease ``name``: acquire, renew, fence, release."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        name: str,
        *,
        holder: str | None = None,
        ttl: float = 5.0,
        renew_every: float = 1.0,
    ) -> None:
        if not 0 < renew_every < ttl:
            raise ValueError("renew_every must be below the lease's ttl")
        self.name = name
        self.holder = holder or new_holder(name)
        self.ttl = ttl
        self.renew_every = renew_every
        self._sessions = sessions
        self.token: int | None = None
        self._renewed_at = float("-inf")  # loop time when the last successful acquire started
        self._next_try = float("-inf")  # keep(): no new attempt to take it before (loop time)
        self.takeovers = 0  # times this handle took the lease from another holder (or first)

    def _now(self) -> float:
        return asyncio.get_running_loop().time()

    def valid(self) -> bool:
        """Held, as far as this replica can tell without asking (its own clock, a margin early)."""
        return self.token is not None and self._now() < self._renewed_at + self.ttl - _MARGIN

    async def acquire(self) -> int | None:
        """Take the lease if it is free or expired, or renew it if held by us; the token, or None
        when another replica holds it."""
        started = self._now()
        async with self._sessions() as session, session.begin():
            now = db_now(session)
            ins = upsert(session, leases)
            stmt = ins.values(name=self.name, holder=self.holder, token=1, expires_at=db_later(session, self.ttl))
            stmt = stmt.on_conflict_do_update(
                index_elements=[leases.c.name],
                set_={
                    # The same holder renewing keeps its token; a new holder gets the next one.
                    "token": case((leases.c.holder == stmt.excluded.holder, leases.c.token), else_=leases.c.token + 1),
                    "holder": stmt.excluded.holder,
                    "expires_at": stmt.excluded.expires_at,
                },
                where=or_(leases.c.holder == stmt.excluded.holder, leases.c.expires_at < now),
            ).returning(leases.c.token)
            token = (await session.execute(stmt)).scalar_one_or_none()
        if token is None:
            self.token = None
            self._next_try = started + min(self.renew_every, 0.5)
            return None
        if token != self.token:
            self.takeovers += 1
        self.token = int(token)
        self._renewed_at = started
        return self.token

    async def keep(self) -> int | None:
        """The token, renewed if the last renewal is ``renew_every`` old (or taken if free). A
        replica that found the lease held asks again at most every half second (however often
        it is called: the relay is woken by every commit)."""
        now = self._now()
        if self.token is not None and now < self._renewed_at + self.renew_every:
            return self.token
        if self.token is None and now < self._next_try:
            return None
        return await self.acquire()

    def forget(self) -> None:
        """Known lost (a fenced write was refused): no longer held, as far as this replica knows."""
        self.token = None

    def fence(self, token: int | None = None) -> ColumnElement[bool]:
        """True while the lease row names this holder with ``token`` (default: the current one)."""
        held = self.token if token is None else token
        return exists(
            select(leases.c.name).where(
                leases.c.name == self.name, leases.c.holder == self.holder, leases.c.token == (held or 0)
            )
        )

    async def release(self, *, done: bool = False) -> None:
        """Give the lease up at once (another replica may take it); ``done`` also records the work
        done at the database's clock. Fenced: a replaced holder changes nothing."""
        if self.token is None:
            return
        token, self.token = self.token, None
        async with self._sessions() as session, session.begin():
            now = db_now(session)
            values: dict[str, Any] = {"expires_at": now}
            if done:
                values["done_at"] = now
            await session.execute(
                update(leases)
                .where(leases.c.name == self.name, leases.c.holder == self.holder, leases.c.token == token)
                .values(**values)
            )

    async def mark_done(self) -> bool:
        """Record the work done (at the database's clock) while keeping the lease; False if fenced."""
        async with self._sessions() as session, session.begin():
            stmt = (
                update(leases)
                .where(leases.c.name == self.name, leases.c.holder == self.holder, leases.c.token == (self.token or 0))
                .values(done_at=db_now(session))
            )
            return await affected_rows(session, stmt) == 1

    async def since_done(self) -> float | None:
        """Seconds since the work was last recorded done (the database's clock); None if never."""
        async with self._sessions() as session:
            now = db_now(session)
            row = (
                await session.execute(select(leases.c.done_at, now.label("now")).where(leases.c.name == self.name))
            ).first()
        if row is None or row.done_at is None:
            return None
        current = row.now if isinstance(row.now, datetime) else utcnow()
        if current.tzinfo is None:
            current = current.replace(tzinfo=row.done_at.tzinfo)
        return max(float((current - row.done_at).total_seconds()), 0.0)
