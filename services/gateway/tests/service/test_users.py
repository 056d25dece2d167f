"""The user directory (issue 24, `user` custom fields): ``GET /api/v1/users`` for staff and
service clients, and ``GET /auth/usernames``, the digests every service follows
(tessera_shared.users) to refuse a `user` value that names nobody."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

import tessera_gateway.main as gateway_main
from tessera_gateway.main import create_app
from tessera_gateway.settings import GatewaySettings
from tessera_shared.auth import LOCAL_USER_ROLES
from tessera_shared.testing.databases import DatabaseFactory
from tessera_shared.testing.plugin import bearer, migrations_of, running
from tessera_shared.users import FEED_PATH, KnownUsers, UsersPoller, http_fetch

PROBLEM = "application/problem+json"


@pytest.fixture
async def gateway(databases: DatabaseFactory, backend: str) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """One gateway in local mode (its local accounts), no upstream behind it."""
    url = await databases.new("gateway", backend, migrations_of(gateway_main.__file__))
    app = create_app(
        GatewaySettings(database_url=url, log_json=False, view_cache_enabled=False, customer_url="http://127.0.0.1:1")
    )
    async with running(app) as client:
        yield app, client


@pytest.mark.sqlite
async def test_staff_and_service_clients_read_the_accounts_sorted_a_partner_may_not(
    gateway: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    app, client = gateway
    for headers in (
        bearer(app, "rep1", "sales_rep"),
        bearer(app, "agent1", "support_agent"),
        bearer(app, "svc-sales", "service"),
    ):
        r = await client.get("/api/v1/users", headers=headers)
        assert r.status_code == 200, r.text
        body = r.json()
        names = [u["username"] for u in body["items"]]
        assert names == sorted(names) and body["next_cursor"] is None
        assert set(names) >= set(LOCAL_USER_ROLES) | {"partner", "svc-sales"}
        by_name = {u["username"]: u for u in body["items"]}
        assert by_name["rep1"] == {"username": "rep1", "kind": "user", "roles": sorted(LOCAL_USER_ROLES["rep1"])}
        assert by_name["svc-sales"] == {"username": "svc-sales", "kind": "client", "roles": ["service"]}

    r = await client.get("/api/v1/users", headers=bearer(app, "partner", "partner"))
    assert r.status_code == 403 and r.headers["content-type"].startswith(PROBLEM)
    r = await client.get("/api/v1/users")
    assert r.status_code == 401 and r.headers["content-type"].startswith(PROBLEM)


@pytest.mark.sqlite
async def test_a_service_following_the_feed_knows_the_user_accounts_and_nothing_else(
    gateway: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    app, client = gateway
    # What each service process runs (no credential: the feed lists digests, no names).
    feed_client, fetch = http_fetch("http://gateway.test", transport=httpx.ASGITransport(app=app))
    known = KnownUsers()
    assert not known.loaded and not known.refuses("nobody")
    async with feed_client:
        await UsersPoller(known, fetch, interval=30).refresh()
    assert known.loaded
    assert not known.refuses("rep1") and not known.refuses("admin")
    assert known.refuses("nobody")
    assert known.refuses("svc-sales") and known.refuses("partner")  # clients are not users
    assert "rep1" not in (await client.get(FEED_PATH)).text
