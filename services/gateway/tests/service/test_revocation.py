"""Logout and RFC 7009 revocation: a revoked access token is refused by every service process
and every gateway replica within seconds; its refresh chain ends."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

import tessera_customer.main as customer_main
import tessera_gateway.main as gateway_main
from tessera_customer.settings import CustomerSettings
from tessera_gateway.main import create_app
from tessera_gateway.settings import GatewaySettings
from tessera_shared.testing.databases import DatabaseFactory
from tessera_shared.testing.plugin import migrations_of

POLL = 0.5


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Stack:
    def __init__(self) -> None:
        self.url = ""
        self.gateway_b: httpx.AsyncClient
        self.customers: list[httpx.AsyncClient] = []


@pytest.fixture
async def stack(databases: DatabaseFactory) -> AsyncIterator[Stack]:
    gw_db = await databases.new("gateway", "postgres", migrations_of(gateway_main.__file__))
    cu_db = await databases.new("customer", "postgres", migrations_of(customer_main.__file__))
    port = free_port()
    stack = Stack()
    stack.url = f"http://127.0.0.1:{port}"

    def gateway() -> FastAPI:
        return create_app(
            GatewaySettings(
                database_url=gw_db,
                log_json=False,
                view_cache_enabled=False,
                token_revocations_poll_seconds=POLL,
                customer_url="http://127.0.0.1:1",
            )
        )

    # Gateway replica A behind a real HTTP server (the services read its feed over HTTP), replica B
    # in process on the same database; two customer-service replicas following A's feed.
    server = uvicorn.Server(
        uvicorn.Config(gateway(), host="127.0.0.1", port=port, log_config=None, lifespan="on", proxy_headers=False)
    )
    serving = asyncio.create_task(server.serve())
    while not server.started:
        assert not serving.done()
        await asyncio.sleep(0.05)
    apps = [gateway()] + [
        customer_main.create_app(
            CustomerSettings(
                database_url=cu_db,
                kafka_enabled=False,
                jobs_enabled=False,
                log_json=False,
                gateway_url=stack.url,
                token_revocations_poll_seconds=POLL,
            )
        )
        for _ in range(2)
    ]
    contexts = [app.router.lifespan_context(app) for app in apps]
    clients = [httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://replica") for app in apps]
    try:
        for ctx in contexts:
            await ctx.__aenter__()
        stack.gateway_b, *stack.customers = clients
        yield stack
    finally:
        for client in clients:
            await client.aclose()
        for ctx in reversed(contexts):
            await ctx.__aexit__(None, None, None)
        server.should_exit = True
        await serving


async def refused_everywhere(stack: Stack, token: str, within: float = 5.0) -> float:
    """Seconds until every replica answers 401 token-revoked."""
    headers = {"Authorization": f"Bearer {token}"}
    started = time.monotonic()
    while True:
        answers = [await c.get("/v1/customers", headers=headers) for c in stack.customers]
        answers.append(await stack.gateway_b.get("/api/v1/customers", headers=headers))
        if all(r.status_code == 401 for r in answers):
            for r in answers:
                assert r.json()["type"] == "urn:tessera:problem:token-revoked"
                assert 'error="invalid_token"' in r.headers["www-authenticate"]
            return time.monotonic() - started
        assert time.monotonic() - started < within, [r.status_code for r in answers]
        await asyncio.sleep(0.1)


async def login(client: httpx.AsyncClient, user: str = "manager") -> dict[str, str]:
    r = await client.post("/auth/token", data={"grant_type": "password", "username": user, "password": "local"})
    assert r.status_code == 200, r.text
    return r.json()


async def test_logout_revokes_the_access_token_everywhere_and_its_refresh_chain(stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=stack.url) as gateway_a:
        tokens = await login(gateway_a)
        headers = {"Authorization": f"Bearer {tokens['access_token']}"}
        for customer in stack.customers:
            assert (await customer.get("/v1/customers", headers=headers)).status_code == 200
        assert (await gateway_a.post("/auth/logout", headers=headers)).status_code == 204
        # The replica that logged out refuses it at once (before reaching any upstream).
        r = await gateway_a.get("/api/v1/customers", headers=headers)
        assert (r.status_code, r.json()["type"]) == (401, "urn:tessera:problem:token-revoked")
        took = await refused_everywhere(stack, tokens["access_token"])
        assert took < 5.0
        refreshed = await gateway_a.post(
            "/auth/token", data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
        )
        assert refreshed.status_code == 400
        assert refreshed.json()["error"] == "invalid_grant"
        # Another session of the same user is untouched.
        fresh = await login(gateway_a)
        again = await stack.customers[0].get(
            "/v1/customers", headers={"Authorization": f"Bearer {fresh['access_token']}"}
        )
        assert again.status_code == 200


async def test_rfc7009_revoke_of_an_access_token_and_of_a_refresh_token(stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=stack.url) as gateway_a:
        first = await login(gateway_a)
        r = await gateway_a.post(
            "/auth/revoke", data={"token": first["access_token"], "token_type_hint": "access_token"}
        )
        assert r.status_code == 200
        await refused_everywhere(stack, first["access_token"])
        second = await login(gateway_a)
        assert (await gateway_a.post("/auth/revoke", data={"token": second["refresh_token"]})).status_code == 200
        r = await gateway_a.post(
            "/auth/token", data={"grant_type": "refresh_token", "refresh_token": second["refresh_token"]}
        )
        assert r.status_code == 400
        # Unknown tokens are fine (RFC 7009 §2.2); the second access token still works.
        assert (await gateway_a.post("/auth/revoke", data={"token": "no-such-token"})).status_code == 200
        ok = await stack.customers[1].get(
            "/v1/customers", headers={"Authorization": f"Bearer {second['access_token']}"}
        )
        assert ok.status_code == 200


async def test_the_feed_lists_token_ids_only(stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=stack.url) as gateway_a:
        tokens = await login(gateway_a, "rep1")
        before = datetime.now(UTC) - timedelta(seconds=1)
        await gateway_a.post("/auth/logout", headers={"Authorization": f"Bearer {tokens['access_token']}"})
        feed = (await gateway_a.get("/auth/revocations", params={"since": before.isoformat()})).json()
        (item,) = feed["items"]
        assert set(item) == {"jti", "expires_at"}
        assert "rep1" not in str(feed)
        later = await gateway_a.get(
            "/auth/revocations", params={"since": (datetime.now(UTC) + timedelta(seconds=5)).isoformat()}
        )
        assert later.json()["items"] == []
        assert (await gateway_a.get("/auth/revocations", params={"since": "2026-01-01T00:00:00"})).status_code == 422
