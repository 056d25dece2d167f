"""Request limits admitted from memory, counted in the shared table ahead in small leases.

A take through :class:`SlidingWindows` is a round trip to PostgreSQL (the key's advisory lock, a
sum and an upsert): about 290 us of the gateway's CPU per forwarded request, measured in process
(tests/bench/hop.py), a third of the hop. A key in steady use needs no round trip per request:
a replica counts several units of the key in the table at once (``rate_counters_take_up_to``,
as many as the window still holds) and admits from that lease in memory until it is used up,
the slice changes or ``LEASE_SECONDS`` pass; then it takes the next one (twice the size while
the key keeps using them up) and gives back what it did not use. A lease holds at most
``limit // LEASE_SHARE`` units (2% of the limit) and at most ``MAX_LEASE``; below
``2 * LEASE_SHARE`` a minute (the login throttle, small limits) every take goes to the table as
before, and so does the first take of a key and every take on SQLite.

What that keeps across replicas, stated: every admitted request was counted in the shared table
first, so no window ever admits more than the limit, whichever replicas answered. What it
loosens: units another replica holds and has not used yet count as used, so a replica may refuse
up to ``min(limit // LEASE_SHARE, MAX_LEASE)`` requests early per other replica holding a lease
of the key, for at most ``LEASE_SECONDS`` (a sweeper gives unused units back); and ``RateLimit``'s
``r=`` is exact for the replica that answers, lower by the others' unused leases. A key at a
limit of 1,200 a minute (the default) leases at most 24 units.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine

from tessera_gateway.limits.store import Decision, SlidingWindows, _lock_id, _refused, _Span, bounded

log = logging.getLogger(__name__)

LEASE_SECONDS = 0.5
LEASE_SHARE = 50
MAX_LEASE = 256

_PG_TAKE_UP_TO = (
    "SELECT out_used, out_oldest, out_n, out_granted FROM rate_counters_take_up_to($1, $2, $3, $4, $5, $6, $7)"
)
_PG_SLICES_OF = "SELECT start, n FROM rate_counters WHERE key = $1 AND start >= $2 ORDER BY start"
_PG_RETURN = (
    "UPDATE rate_counters AS r SET n = greatest(0, r.n - v.k) "
    "FROM unnest($1::varchar[], $2::bigint[], $3::int[]) AS v(key, start, k) "
    "WHERE r.key = v.key AND r.start = v.start"
)


@dataclass
class _Lease:
    start: int  # the slice its units were counted in (epoch ms)
    limit: int
    window: int
    credit: int  # counted in the table, not admitted yet
    total: int  # the key's count in the window when it was taken (every replica's)
    oldest: int | None
    until: float  # clock time after which what is left goes back
    size: int  # units it was granted
    used: int = 1  # admitted from it (the take that asked for it)


class LeasedWindows(SlidingWindows):
    """:class:`SlidingWindows` whose takes of a busy key are admitted from a lease."""

    def __init__(
        self,
        engine: AsyncEngine,
        clock: Callable[[], float] | None = None,
        *,
        lease_seconds: float = LEASE_SECONDS,
    ) -> None:
        super().__init__(engine, clock or time.time)
        self.lease_seconds = lease_seconds
        self._leases: dict[str, _Lease] = {}
        self._refilling: dict[str, asyncio.Lock] = {}
        self._sweeper: asyncio.Task[None] | None = None
        self.round_trips = 0  # leased takes that went to the table (tests, profiling)

    def _leases_apply(self, limit: int) -> bool:
        return self._postgres and limit >= 2 * LEASE_SHARE

    async def take(self, key: str, limit: int, window: int) -> Decision:
        if not self._leases_apply(limit):
            return await super().take(key, limit, window)
        key = bounded(key)
        while True:
            lease = self._usable(key, limit, window)
            if lease is not None:
                lease.credit -= 1
                lease.used += 1
                span = _Span.at(self._clock(), window)
                return Decision(
                    allowed=True,
                    limit=limit,
                    window=window,
                    remaining=max(0, limit - lease.total + lease.credit),
                    reset=span.leaves(lease.start if lease.oldest is None else lease.oldest),
                    retry_after=0.0,
                    start=lease.start,
                )
            # One take of the key at the table at a time; the others use what it brings.
            async with self._refilling.setdefault(key, asyncio.Lock()):
                if self._usable(key, limit, window) is None:
                    return await self._refill(key, limit, window)

    def _usable(self, key: str, limit: int, window: int) -> _Lease | None:
        lease = self._leases.get(key)
        if lease is None or lease.credit <= 0 or (lease.limit, lease.window) != (limit, window):
            return None
        now = self._clock()
        if now >= lease.until or lease.start != _Span.at(now, window).cur:
            return None
        return lease

    def _next_size(self, lease: _Lease | None, now: float, limit: int) -> int:
        cap = min(limit // LEASE_SHARE, MAX_LEASE)
        if lease is None or now > lease.until + self.lease_seconds:
            return 1  # a key not in steady use: one unit, exact as without leases
        if lease.credit == 0:
            return min(cap, max(1, lease.size * 2))  # used up: twice as many
        return min(cap, max(1, lease.used))  # what was used in one lease's time

    async def _refill(self, key: str, limit: int, window: int) -> Decision:
        now = self._clock()
        span = _Span.at(now, window)
        old = self._leases.pop(key, None)
        want = self._next_size(old, now, limit)
        self._ensure_sweeper()
        async with (await self._connections()).acquire() as conn:
            self.round_trips += 1
            if old is not None and old.credit > 0:
                await conn.execute(_PG_RETURN, [key], [old.start], [old.credit])
            used, oldest, n, granted = await conn.fetchrow(
                _PG_TAKE_UP_TO,
                key,
                span.first,
                span.cur,
                span.expires,
                limit,
                _lock_id(key),
                want,
            )
            if not granted:
                rows = await conn.fetch(_PG_SLICES_OF, key, span.first)
                return _refused([(r[0], r[1]) for r in rows], limit, span)
        total = used + n
        lease = _Lease(
            start=span.cur,
            limit=limit,
            window=window,
            credit=granted - 1,
            total=total,
            oldest=oldest,
            until=now + self.lease_seconds,
            size=granted,
        )
        self._leases[key] = lease
        return Decision(
            allowed=True,
            limit=limit,
            window=window,
            remaining=max(0, limit - total + lease.credit),
            reset=span.leaves(span.cur if oldest is None else oldest),
            retry_after=0.0,
            start=span.cur,
        )

    async def give_back(self, key: str, start: int) -> None:
        lease = self._leases.get(bounded(key))
        if lease is not None and lease.start == start and lease.used > 0:
            lease.used -= 1
            lease.credit += 1
            return
        await super().give_back(key, start)

    async def clear(self, keys: Iterable[str]) -> None:
        keys = list(keys)
        for key in keys:
            self._leases.pop(bounded(key), None)
        await super().clear(keys)

    # --- unused units go back --------------------------------------------------------------
    def _ensure_sweeper(self) -> None:
        if self._sweeper is None or self._sweeper.done():
            self._sweeper = asyncio.create_task(self._sweep_forever(), name="rate-lease-sweeper")

    async def _sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(self.lease_seconds)
            try:
                await self.sweep()
            except Exception:
                log.warning("could not give back unused rate-limit leases; retrying", exc_info=True)

    async def sweep(self, everything: bool = False) -> int:
        """Give back the unused units of leases past their time (all of them with ``everything``)."""
        now = self._clock()
        done = [
            (key, lease)
            for key, lease in self._leases.items()
            if (everything or now >= lease.until) and not (key in self._refilling and self._refilling[key].locked())
        ]
        for key, _ in done:
            del self._leases[key]
            lock = self._refilling.get(key)
            if lock is not None and not lock.locked():
                del self._refilling[key]
        back = [(key, lease) for key, lease in done if lease.credit > 0]
        if back:
            async with (await self._connections()).acquire() as conn:
                await conn.execute(
                    _PG_RETURN,
                    [k for k, _ in back],
                    [lease.start for _, lease in back],
                    [lease.credit for _, lease in back],
                )
        return sum(lease.credit for _, lease in back)

    async def close(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
            self._sweeper = None
        if self._leases and self._pool is not None:
            with contextlib.suppress(Exception):
                await self.sweep(everything=True)
        await super().close()
