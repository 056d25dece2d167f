"""Busy keys admitted from leases of the shared count (limits/leased.py): fewer round trips, never
more than the limit across replicas, unused units given back."""

from __future__ import annotations

import asyncio
import random

import asyncpg

import tessera_gateway.main as gateway_main
from tessera_gateway.limits.leased import LEASE_SHARE, LeasedWindows
from tessera_shared.db import create_engine
from tessera_shared.testing.databases import DatabaseFactory
from tessera_shared.testing.plugin import migrations_of

NOW = 1_800_000_000.0


async def counted(url: str, key: str) -> int:
    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        return int(await conn.fetchval("SELECT coalesce(sum(n), 0) FROM rate_counters WHERE key = $1", key))
    finally:
        await conn.close()


async def test_a_busy_key_goes_to_the_table_once_per_lease(databases: DatabaseFactory) -> None:
    url = await databases.new("gateway", "postgres", migrations_of(gateway_main.__file__))
    engine = create_engine(url)
    windows = LeasedWindows(engine, clock=lambda: NOW)
    try:
        decisions = [await windows.take("busy", 100_000, 60) for _ in range(1000)]
        assert all(d.allowed for d in decisions)
        # Leases of 1, 2, 4 ... 256 units, then 256 at a time: 11 round trips, not 1,000.
        assert windows.round_trips <= 12, windows.round_trips
        # Each answer's remainder, as this replica sees it, goes down by one.
        assert [d.remaining for d in decisions] == list(range(100_000 - 1, 100_000 - 1001, -1))
        assert await counted(url, "busy") >= 1000  # counted before admitted
        assert await windows.sweep(everything=True) >= 0
        assert await counted(url, "busy") == 1000  # the unused units went back
        # A small limit is exact as before: every take at the table, no lease.
        before = windows.round_trips
        small = [(await windows.take("small", 2 * LEASE_SHARE - 1, 60)).allowed for _ in range(2 * LEASE_SHARE)]
        assert small.count(True) == 2 * LEASE_SHARE - 1 and not small[-1]
        assert windows.round_trips == before
    finally:
        await windows.close()
        await engine.dispose()


async def test_replicas_with_leases_never_admit_more_than_the_limit(databases: DatabaseFactory) -> None:
    """Two replicas racing 800 takes at a limit of 500: at most 500, and at most one lease (2% of
    the limit) short of it; what each kept unused goes back."""
    url = await databases.new("gateway", "postgres", migrations_of(gateway_main.__file__))
    engines = [create_engine(url), create_engine(url)]
    replicas = [LeasedWindows(e, clock=lambda: NOW) for e in engines]
    limit = 500
    try:
        rng = random.Random(7)

        async def client(n: int) -> list[bool]:
            out = []
            for _ in range(100):
                out.append((await replicas[rng.randrange(2)].take("shared", limit, 60)).allowed)
                if n % 2:
                    await asyncio.sleep(0)
            return out

        answers = [a for run in await asyncio.gather(*(client(n) for n in range(8))) for a in run]
        admitted = answers.count(True)
        assert limit - limit // LEASE_SHARE <= admitted <= limit, admitted
        for r in replicas:
            await r.sweep(everything=True)
        assert await counted(url, "shared") == admitted
    finally:
        for r in replicas:
            await r.close()
        for e in engines:
            await e.dispose()


async def test_unused_units_go_back_after_a_lease_time(databases: DatabaseFactory) -> None:
    url = await databases.new("gateway", "postgres", migrations_of(gateway_main.__file__))
    engines = [create_engine(url), create_engine(url)]
    now = [NOW]
    a, b = (LeasedWindows(e, clock=lambda: now[0], lease_seconds=0.5) for e in engines)
    limit = 1000  # leases of at most 20
    try:
        for _ in range(40):
            assert (await a.take("k", limit, 60)).allowed
        held = await counted(url, "k") - 40
        assert held > 0  # a holds counted units it has not used
        # b sees them as used: it admits the rest of the window, short by what a holds...
        got_b = 0
        while (await b.take("k", limit, 60)).allowed:
            got_b += 1
        assert got_b == limit - 40 - held
        # ...until a's lease time is over: its sweep gives them back, and b may use them.
        now[0] += 0.6
        assert await a.sweep() == held
        assert sum([(await b.take("k", limit, 60)).allowed for _ in range(held + 5)]) == held
        await b.sweep(everything=True)
        assert await counted(url, "k") == limit
    finally:
        await a.close()
        await b.close()
        for e in engines:
            await e.dispose()


async def test_concurrent_takes_of_a_key_share_its_lease(databases: DatabaseFactory) -> None:
    """32 requests of one token in flight: one of them at the table, the others from its lease."""
    url = await databases.new("gateway", "postgres", migrations_of(gateway_main.__file__))
    engine = create_engine(url)
    windows = LeasedWindows(engine, clock=lambda: NOW)
    try:

        async def client() -> int:
            admitted = 0
            for _ in range(100):
                admitted += (await windows.take("hot", 1_000_000, 60)).allowed
                await asyncio.sleep(0)
            return admitted

        assert sum(await asyncio.gather(*(client() for _ in range(32)))) == 3200
        assert windows.round_trips <= 30, windows.round_trips
        await windows.sweep(everything=True)
        assert await counted(url, "hot") == 3200
    finally:
        await windows.close()
        await engine.dispose()
