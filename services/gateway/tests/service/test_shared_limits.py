"""Limits and login throttling held across gateway replicas and restarts (issue 20, item 3):
three gateway apps on one database stand for three replicas."""

from __future__ import annotations

import asyncio
import itertools
import random
import re
import socket
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import UTC, datetime

import httpx
import httpx2
import pytest
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from sqlalchemy import func, select
from sqlmodel import col

import tessera_gateway.main as gateway_main
from tessera_gateway.auth.accounts import AccountDirectory
from tessera_gateway.auth.throttle import LoginThrottle
from tessera_gateway.limits.rate import RateLimits
from tessera_gateway.limits.store import SLICES, SlidingWindows, purge
from tessera_gateway.main import create_app
from tessera_gateway.models import RateCounter
from tessera_gateway.settings import GatewaySettings
from tessera_shared.db import create_engine, session_factory
from tessera_shared.testing.databases import DatabaseFactory
from tessera_shared.testing.plugin import bearer, migrations_of, running

pytestmark = pytest.mark.sqlite  # the store has a statement per database


def upstream() -> FastAPI:
    """A customer service that answers every read at once."""
    app = FastAPI()

    @app.get("/v1/customers")
    async def customers() -> JSONResponse:
        return JSONResponse({"items": []})

    return app


@asynccontextmanager
async def replicas(url: str, count: int, **settings: object) -> AsyncIterator[list[tuple[FastAPI, httpx.AsyncClient]]]:
    service = upstream()
    async with AsyncExitStack() as stack:
        apps = []
        for _ in range(count):
            app = create_app(
                GatewaySettings(
                    database_url=url,
                    log_json=False,
                    view_cache_enabled=False,
                    customer_url="http://customer.test",
                    **settings,  # type: ignore[arg-type]
                ),
                mounts={"http://customer.test": httpx2.ASGITransport(app=service)},
            )
            apps.append((app, await stack.enter_async_context(running(app))))
        yield apps


RATELIMIT = re.compile(r'^"per-token";r=(\d+);t=(\d+)$')


async def test_one_token_is_held_to_its_limit_across_three_replicas(databases: DatabaseFactory, backend: str) -> None:
    url = await databases.new("gateway", backend, migrations_of(gateway_main.__file__))
    async with replicas(url, 3, rate_limit_per_minute=60) as gateways:
        headers = bearer(gateways[0][0], "rep1", "sales_rep")
        clients = itertools.cycle([client for _, client in gateways])
        answers = [await next(clients).get("/api/v1/customers", headers=headers) for _ in range(90)]
        allowed = [r for r in answers if r.status_code == 200]
        refused = [r for r in answers if r.status_code == 429]
        assert len(allowed) + len(refused) == 90
        assert 60 <= len(allowed) <= 66
        assert answers[:60] == allowed[:60]  # the first 60 of the minute, whichever replica
        for n, r in enumerate(allowed, start=1):
            assert r.headers["ratelimit-policy"] == '"per-token";q=60;w=60'
            remaining, reset = map(int, RATELIMIT.match(r.headers["ratelimit"]).groups())  # type: ignore[union-attr]
            assert remaining == 60 - n  # the count every replica shares
            assert 0 < reset <= 63
        for r in refused:
            assert r.headers["ratelimit-policy"] == '"per-token";q=60;w=60'
            remaining, reset = map(int, RATELIMIT.match(r.headers["ratelimit"]).groups())  # type: ignore[union-attr]
            assert remaining == 0
            assert 0 < int(r.headers["retry-after"]) <= 63
            assert r.json()["type"] == "urn:tessera:problem:rate-limited"
        # Another token has its own count.
        other = bearer(gateways[0][0], "rep2", "sales_rep")
        assert (await gateways[1][1].get("/api/v1/customers", headers=other)).status_code == 200


async def test_concurrent_requests_through_three_replicas_admit_the_limit_exactly(databases: DatabaseFactory) -> None:
    url = await databases.new("gateway", "postgres", migrations_of(gateway_main.__file__))
    async with replicas(url, 3, rate_limit_per_minute=60) as gateways:
        headers = bearer(gateways[0][0], "rep1", "sales_rep")
        answers = await asyncio.gather(
            *(gateways[n % 3][1].get("/api/v1/customers", headers=headers) for n in range(150))
        )
        codes = [r.status_code for r in answers]
        assert codes.count(200) == 60, codes
        assert codes.count(429) == 90
        left = sorted(int(RATELIMIT.match(r.headers["ratelimit"]).group(1)) for r in answers if r.status_code == 200)  # type: ignore[union-attr]
        assert left == list(range(60))  # each admitted request was told a different remainder


async def test_the_window_slides_and_holds_in_any_minute(databases: DatabaseFactory, backend: str) -> None:
    """With a clock of our own: at most the limit in any 60 s, whatever the timing; a caller who
    waits as told is admitted."""
    url = await databases.new("gateway", backend, migrations_of(gateway_main.__file__))
    engine = create_engine(url)
    now = [1_800_000_000.0]
    windows = SlidingWindows(engine, clock=lambda: now[0])
    try:
        limit = 10
        first = [await windows.take("k", limit, 60) for _ in range(limit)]
        assert [d.remaining for d in first] == list(range(limit - 1, -1, -1))
        refused = await windows.take("k", limit, 60)
        assert not refused.allowed
        slice_s = 60 / SLICES
        assert 60 < refused.retry_after <= 60 + slice_s  # when the first slice has left the window
        now[0] += refused.retry_after - 0.01
        assert not (await windows.take("k", limit, 60)).allowed
        now[0] += 0.01
        assert (await windows.take("k", limit, 60)).allowed

        # A key longer than the column is stored by its hash, and still counts as itself.
        long_key = "x" * 1000
        assert [(await windows.take(long_key, 2, 60)).allowed for _ in range(3)] == [True, True, False]
        assert (await windows.take(long_key[:-1] + "y", 2, 60)).allowed

        # Random arrivals over ten minutes: never more than the limit in any 60 s.
        rng = random.Random(20)
        admitted: list[float] = []
        for _ in range(400):
            now[0] += rng.expovariate(1 / 1.5)
            if (await windows.take("r", limit, 60)).allowed:
                admitted.append(now[0])
        assert len(admitted) >= 10 * limit * 60 / (60 + slice_s) - limit  # admits near the limit...
        for i, at in enumerate(admitted):  # ...and never more in any minute
            assert sum(1 for t in admitted[i:] if t < at + 60) <= limit
    finally:
        await windows.close()
        await engine.dispose()


async def test_expired_counters_are_purged(databases: DatabaseFactory, backend: str) -> None:
    url = await databases.new("gateway", backend, migrations_of(gateway_main.__file__))
    engine = create_engine(url)
    now = [1_800_000_000.0]
    windows = SlidingWindows(engine, clock=lambda: now[0])
    try:
        await windows.take("old", 5, 60)
        now[0] += 30
        await windows.take("recent", 5, 60)
        sessions = session_factory(engine)
        assert await purge(sessions, datetime.fromtimestamp(now[0] + 40, UTC)) == 1  # "old" no longer counts
        async with sessions() as session:
            keys = (await session.execute(select(col(RateCounter.key)))).scalars().all()
            assert keys == ["recent"]
            assert (await session.execute(select(func.count()).select_from(RateCounter))).scalar() == 1
    finally:
        await windows.close()
        await engine.dispose()


async def wrong_password(client: httpx.AsyncClient, name: str, **headers: str) -> int:
    r = await client.post(
        "/auth/token", headers=headers, data={"grant_type": "password", "username": name, "password": "wrong"}
    )
    return r.status_code


async def test_failed_logins_split_across_replicas_lock_the_name_and_survive_a_restart(
    databases: DatabaseFactory, backend: str
) -> None:
    url = await databases.new("gateway", backend, migrations_of(gateway_main.__file__))
    async with replicas(url, 3, login_max_failures=5) as gateways:
        codes = [await wrong_password(gateways[n % 3][1], "rep1") for n in range(5)]
        assert codes == [400] * 5
        for _, client in gateways:  # every replica now refuses the name, even the right password
            r = await client.post(
                "/auth/token", data={"grant_type": "password", "username": "rep1", "password": "local"}
            )
            assert r.status_code == 429
            assert 0 < int(r.headers["retry-after"]) <= 300 + 300 / SLICES
    async with replicas(url, 1, login_max_failures=5) as (restarted,):  # a new process: still locked
        r = await restarted[1].post(
            "/auth/token", data={"grant_type": "password", "username": "rep1", "password": "local"}
        )
        assert r.status_code == 429


async def test_concurrent_guesses_through_three_replicas_stop_at_the_limit(databases: DatabaseFactory) -> None:
    url = await databases.new("gateway", "postgres", migrations_of(gateway_main.__file__))
    async with replicas(url, 3, login_max_failures=5) as gateways:
        codes = await asyncio.gather(*(wrong_password(gateways[n % 3][1], "manager") for n in range(12)))
        assert sorted(codes) == [400] * 5 + [429] * 7


@pytest.mark.parametrize(("trusted", "counted_per_client"), [([], False), (["127.0.0.1"], True)])
async def test_the_address_lock_keys_on_what_a_trusted_proxy_reports(
    databases: DatabaseFactory, trusted: list[str], counted_per_client: bool
) -> None:
    """Behind a trusted proxy (the in-process client connects from 127.0.0.1) the address is the
    client's, across replicas; from anyone else X-Forwarded-For is ignored."""
    url = await databases.new("gateway", "postgres", migrations_of(gateway_main.__file__))
    async with replicas(url, 3, login_max_failures=3, trusted_proxies=trusted) as gateways:
        client_a = {"X-Forwarded-For": "203.0.113.7"}
        codes = [await wrong_password(gateways[n % 3][1], f"nobody{n}", **client_a) for n in range(4)]
        assert codes == [400, 400, 400, 429]  # one address (new names each time), locked after 3
        client_b = {"X-Forwarded-For": "203.0.113.8"}
        other = await wrong_password(gateways[0][1], "someone", **client_b)
        assert other == (400 if counted_per_client else 429)


async def test_an_unreachable_store_is_a_503_not_a_500() -> None:
    """The limits fail closed: with the database refusing connections a request is a 503 with
    Retry-After (as everything else the gateway's database serves), never let through uncounted."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"postgresql+asyncpg://postgres@127.0.0.1:{port}/tessera"
    app = create_app(GatewaySettings(database_url=url, log_json=False, view_cache_enabled=False))
    # Without the lifespan (its migrations need the database): what it would set up.
    windows = SlidingWindows(app.state.runtime.engine)
    app.state.rate_limits = RateLimits(windows, 10)
    app.state.login_throttle = LoginThrottle(windows, 5, 300)
    app.state.accounts = AccountDirectory.from_settings("[]", local=True)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        r = await client.get("/api/v1/customers", headers=bearer(app, "admin", "admin"))
        assert (r.status_code, r.headers.get("retry-after")) == (503, "1"), r.text[:300]
        r = await client.post("/auth/token", data={"grant_type": "password", "username": "admin", "password": "x"})
        assert (r.status_code, r.headers.get("retry-after")) == (503, "1"), r.text[:300]
    await windows.close()


async def test_what_a_client_prepends_to_x_forwarded_for_is_not_its_address(databases: DatabaseFactory) -> None:
    """The proxy appends the address it saw; what the client sent before it is the client's own
    claim: the lock keys on the rightmost address that is not a trusted proxy."""
    url = await databases.new("gateway", "postgres", migrations_of(gateway_main.__file__))
    async with replicas(url, 2, login_max_failures=3, trusted_proxies=["127.0.0.1"]) as gateways:
        codes = [
            await wrong_password(
                gateways[n % 2][1], f"nobody{n}", **{"X-Forwarded-For": f"198.51.100.{n}, 203.0.113.7"}
            )
            for n in range(4)
        ]
        assert codes == [400, 400, 400, 429]


async def test_replicas_a_slice_apart_still_admit_the_limit_exactly(databases: DatabaseFactory) -> None:
    """Replicas whose takes fall in different slices (a clock a slice ahead, or a take begun at a
    slice's end): those counting in the later slice must see every take of the earlier one, also
    those still in flight, or together they admit more than the limit."""
    url = await databases.new("gateway", "postgres", migrations_of(gateway_main.__file__))
    engine = create_engine(url)
    now = 1_800_000_000.0
    behind = SlidingWindows(engine, clock=lambda: now)
    ahead = SlidingWindows(engine, clock=lambda: now + 60 / SLICES)
    try:
        for attempt in range(3):
            key = f"skew{attempt}"
            decisions = await asyncio.gather(
                *((behind if n % 2 else ahead).take(key, 40, 60) for n in range(200)), return_exceptions=False
            )
            assert sum(d.allowed for d in decisions) == 40
    finally:
        await behind.close()
        await ahead.close()
        await engine.dispose()
