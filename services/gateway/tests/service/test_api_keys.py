"""API keys (issue 23, item 4): created by an admin and shown once, stored hashed, accepted as a
bearer token by the gateway and by the services (which learn it from crm.gateway), revoked at
once at the gateway and within seconds at the services; each key its own rate limit; its calls
audited under its name."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, get_args

import httpx
import httpx2
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

import tessera_customer.main as customer_main
import tessera_gateway.main as gateway_main
from tessera_customer.settings import CustomerSettings
from tessera_gateway.apikeys.router import KeyRole
from tessera_gateway.apikeys.service import KEY_ROLES
from tessera_gateway.main import create_app
from tessera_gateway.settings import GatewaySettings
from tessera_shared.testing.databases import DatabaseFactory
from tessera_shared.testing.plugin import bearer, migrations_of, running

CUSTOMER = "http://customer.test"


def key_header(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def create_key(client: httpx.AsyncClient, admin: dict[str, str], **body: Any) -> dict[str, Any]:
    r = await client.post(
        "/api/v1/api-keys", json={"name": "erp-sync", "roles": ["sales_manager"], **body}, headers=admin
    )
    assert r.status_code == 201, r.text
    created: dict[str, Any] = r.json()
    return created


def test_key_roles_are_every_role_but_admin() -> None:
    assert set(get_args(KeyRole)) == {str(r) for r in KEY_ROLES}
    assert "admin" not in KEY_ROLES


@dataclass
class Stack:
    gateway_a: httpx.AsyncClient
    gateway_b: httpx.AsyncClient
    customer: httpx.AsyncClient
    app_a: FastAPI
    gateway_db: str
    customer_app: Callable[[], FastAPI]


@pytest.fixture
async def stack(databases: DatabaseFactory, kafka_bootstrap: str, namespace: str) -> AsyncIterator[Stack]:
    """Two gateway replicas on one database (both publish through the outbox) forwarding to a
    customer service that follows crm.gateway."""
    gw_db = await databases.new("gateway", "postgres", migrations_of(gateway_main.__file__))
    cu_db = await databases.new("customer", "postgres", migrations_of(customer_main.__file__))

    def customer_app() -> FastAPI:
        return customer_main.create_app(
            CustomerSettings(
                database_url=cu_db,
                kafka_bootstrap=kafka_bootstrap,
                kafka_topic_namespace=namespace,
                kafka_consumer_group=f"{namespace}customer",
                kafka_partitions=3,
                jobs_enabled=False,
                token_revocations=False,
                log_json=False,
            )
        )

    customer = customer_app()

    def gateway() -> FastAPI:
        return create_app(
            GatewaySettings(
                database_url=gw_db,
                kafka_enabled=True,
                kafka_bootstrap=kafka_bootstrap,
                kafka_topic_namespace=namespace,
                kafka_partitions=3,
                view_cache_enabled=False,
                customer_url=CUSTOMER,
                api_keys_poll_seconds=0.5,
                api_key_usage_flush_seconds=0.5,
                log_json=False,
            ),
            mounts={CUSTOMER: httpx2.ASGITransport(app=customer)},
        )

    app_a, app_b = gateway(), gateway()
    async with running(customer) as cu, running(app_a) as a, running(app_b) as b:
        yield Stack(a, b, cu, app_a, gw_db, customer_app)


async def eventually_status(call: Any, status: int, within: float = 5.0) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    while True:
        r = await call()
        if r.status_code == status:
            return r, time.monotonic() - started
        assert time.monotonic() - started < within, (r.status_code, r.text)
        await asyncio.sleep(0.05)


async def test_create_use_everywhere_revoke_refused_everywhere(stack: Stack) -> None:
    admin = bearer(stack.app_a, "admin", "admin")
    created = await create_key(stack.gateway_a, admin)
    key = created["key"]
    assert key.startswith("tsk_") and len(key) >= 4 + 43
    assert created["status"] == "active" and created["prefix"] == key[:8]
    assert created["subject"] == f"apikey:{created['id']}"
    headers = key_header(key)

    # Directly at the service (which learns the key from crm.gateway), and through the gateway
    # (which knows it at once and forwards it to the same service).
    _, learnt = await eventually_status(lambda: stack.customer.get("/v1/customers", headers=headers), 200)
    assert learnt < 5.0
    through = await stack.gateway_a.get("/api/v1/customers", headers=headers)
    assert through.status_code == 200
    assert through.headers["ratelimit-policy"] == '"per-api-key";q=1200;w=60'
    # The other gateway replica knows it too (its table, re-read every 0.5 s).
    await eventually_status(lambda: stack.gateway_b.get("/api/v1/customers", headers=headers), 200, within=2.0)
    # The key acts with its roles: a sales manager creates a customer at the service.
    r = await stack.customer.post("/v1/customers", json={"kind": "organization", "name": "Keyed Ltd"}, headers=headers)
    assert r.status_code == 201, r.text
    # A key cannot manage keys (no admin role on a key).
    assert (await stack.gateway_a.get("/api/v1/api-keys", headers=headers)).status_code == 403
    # A process started after the key was created learns it too (crm.gateway read from its beginning).
    async with running(stack.customer_app()) as late:
        _, late_learnt = await eventually_status(lambda: late.get("/v1/customers", headers=headers), 200)

    # Hashed at rest: the plain key is in no row of the gateway's database, its SHA-256 is.
    engine = create_async_engine(stack.gateway_db)
    try:
        async with engine.connect() as conn:
            tables = (
                await conn.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"))
            ).scalars()
            dump = ""
            for table in list(tables):
                rows = (await conn.execute(text(f'SELECT * FROM "{table}"'))).all()  # noqa: S608 - catalogue names
                dump += repr(rows)
    finally:
        await engine.dispose()
    assert key not in dump and key[4:] not in dump
    assert hashlib.sha256(key.encode()).hexdigest() in dump

    # last_used_at moves (written behind, every 0.5 s here), and the list shows it.
    async def used() -> httpx.Response:
        r = await stack.gateway_a.get(f"/api/v1/api-keys/{created['id']}", headers=admin)
        return httpx.Response(200 if r.json()["last_used_at"] else 404)

    await eventually_status(used, 200, within=5.0)
    listed = (await stack.gateway_a.get("/api/v1/api-keys", headers=admin)).json()
    (item,) = [i for i in listed["items"] if i["id"] == created["id"]]
    assert item["last_used_at"] is not None and "key" not in item

    # The audit names the key: its subject and its name.
    audit = await stack.gateway_a.get("/api/v1/audit-log", params={"subject": created["subject"]}, headers=admin)
    assert audit.status_code == 200
    rows = audit.json()["items"]
    assert rows and {(r["subject"], r["subject_name"]) for r in rows} == {(created["subject"], "erp-sync")}
    assert {r["path"] for r in rows} == {"/api/v1/customers"}

    # Revoke through replica A: refused there at once, at B within a second, at the service within 5 s.
    assert (await stack.gateway_a.delete(f"/api/v1/api-keys/{created['id']}", headers=admin)).status_code == 204
    r = await stack.gateway_a.get("/api/v1/customers", headers=headers)
    assert (r.status_code, r.json()["type"]) == (401, "urn:tessera:problem:api-key-revoked")
    assert 'error="invalid_token"' in r.headers["www-authenticate"]
    _, at_b = await eventually_status(lambda: stack.gateway_b.get("/api/v1/customers", headers=headers), 401, 2.0)
    refused, at_service = await eventually_status(lambda: stack.customer.get("/v1/customers", headers=headers), 401)
    assert refused.json()["type"] == "urn:tessera:problem:api-key-revoked"
    assert at_service < 5.0
    shown = (await stack.gateway_a.get(f"/api/v1/api-keys/{created['id']}", headers=admin)).json()
    assert shown["status"] == "revoked" and shown["revoked_at"] is not None
    # Revoking again changes nothing.
    assert (await stack.gateway_a.delete(f"/api/v1/api-keys/{created['id']}", headers=admin)).status_code == 204
    print(
        f"known at the service after {learnt:.2f} s (a process started later: {late_learnt:.2f} s after its start);"
        f" revoked at B after {at_b:.2f} s, at the service {at_service:.2f} s"
    )


@pytest.fixture
async def gateway(databases: DatabaseFactory, backend: str) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """One gateway (no Kafka, no upstream behind it: proxied calls answer 503)."""
    url = await databases.new("gateway", backend, migrations_of(gateway_main.__file__))
    app = create_app(
        GatewaySettings(
            database_url=url,
            log_json=False,
            view_cache_enabled=False,
            customer_url="http://127.0.0.1:1",
            upstream_connect_timeout=0.2,
        )
    )
    async with running(app) as client:
        yield app, client


@pytest.mark.sqlite
async def test_admin_creates_lists_reads_and_revokes(gateway: tuple[FastAPI, httpx.AsyncClient]) -> None:
    app, client = gateway
    admin = bearer(app, "admin", "admin")
    expires = (datetime.now(UTC) + timedelta(days=30)).isoformat()
    first = await create_key(client, admin, expires_at=expires, rate_limit_per_minute=100)
    second = await create_key(client, admin, name="billing-export", roles=["billing_clerk", "service"])
    assert first["key"] != second["key"]
    page = await client.get("/api/v1/api-keys", params={"limit": 1}, headers=admin)
    assert page.status_code == 200
    assert [i["id"] for i in page.json()["items"]] == [first["id"]]
    rest = await client.get("/api/v1/api-keys", params={"cursor": page.json()["next_cursor"]}, headers=admin)
    assert [i["id"] for i in rest.json()["items"]] == [second["id"]]
    one = await client.get(f"/api/v1/api-keys/{second['id']}", headers=admin)
    assert one.status_code == 200
    assert one.json()["roles"] == ["billing_clerk", "service"] and "key" not in one.json()
    assert (await client.delete(f"/api/v1/api-keys/{second['id']}", headers=admin)).status_code == 204
    r = await client.get("/api/v1/customers", headers=key_header(second["key"]))
    assert (r.status_code, r.json()["type"]) == (401, "urn:tessera:problem:api-key-revoked")
    assert (await client.get(f"/api/v1/api-keys/{first['id']}x", headers=admin)).status_code == 422
    unknown = await client.post(
        "/api/v1/api-keys", json={"name": "x", "roles": ["sales_rep"], "colour": 1}, headers=admin
    )
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "colour", unknown.text
    missing = "01900000-0000-7000-8000-000000000000"
    assert (await client.get(f"/api/v1/api-keys/{missing}", headers=admin)).status_code == 404


async def test_only_admins_manage_keys_and_keys_never_hold_admin(gateway: tuple[FastAPI, httpx.AsyncClient]) -> None:
    app, client = gateway
    manager = bearer(app, "manager", "sales_manager")
    body = {"name": "x", "roles": ["sales_rep"]}
    assert (await client.post("/api/v1/api-keys", json=body, headers=manager)).status_code == 403
    assert (await client.get("/api/v1/api-keys", headers=manager)).status_code == 403
    admin = bearer(app, "admin", "admin")
    r = await client.post("/api/v1/api-keys", json={"name": "x", "roles": ["admin"]}, headers=admin)
    assert (r.status_code, r.json()["errors"][0]["field"]) == (422, "roles.0")
    past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    r = await client.post("/api/v1/api-keys", json={**body, "expires_at": past}, headers=admin)
    assert (r.status_code, r.json()["errors"][0]["field"]) == (422, "expires_at")
    r = await client.get("/api/v1/customers", headers=key_header("tsk_" + "A" * 43))
    assert (r.status_code, r.json()["type"]) == (401, "urn:tessera:problem:api-key-unknown")


async def test_an_expired_key_is_refused(gateway: tuple[FastAPI, httpx.AsyncClient]) -> None:
    app, client = gateway
    admin = bearer(app, "admin", "admin")
    created = await create_key(client, admin, expires_at=(datetime.now(UTC) + timedelta(seconds=1.5)).isoformat())
    headers = key_header(created["key"])
    # Accepted while valid (the upstream is down here: 503, past the gateway's own check).
    assert (await client.get("/api/v1/customers", headers=headers)).status_code == 503
    await asyncio.sleep(max(0.0, datetime.fromisoformat(created["expires_at"]).timestamp() - time.time()) + 0.1)
    r = await client.get("/api/v1/customers", headers=headers)
    assert (r.status_code, r.json()["type"]) == (401, "urn:tessera:problem:api-key-expired")
    assert r.json()["detail"] == "API key expired"
    assert (await client.get(f"/api/v1/api-keys/{created['id']}", headers=admin)).json()["status"] == "expired"


async def test_each_key_has_its_own_limit_and_every_answer_reports_it(
    gateway: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    app, client = gateway
    admin = bearer(app, "admin", "admin")
    tight = await create_key(client, admin, name="tight", rate_limit_per_minute=3)
    other = await create_key(client, admin, name="other")
    headers = key_header(tight["key"])
    # Errors carry the fields too: 503 (the upstream is down) and 404 (no such resource).
    answers = [
        await client.get("/api/v1/customers", headers=headers),
        await client.get("/api/v1/no-such-thing", headers=headers),
        await client.get("/api/v1/customers", headers=headers),
    ]
    assert [r.status_code for r in answers] == [503, 404, 503]
    for left, r in zip((2, 1, 0), answers, strict=True):
        assert r.headers["ratelimit-policy"] == '"per-api-key";q=3;w=60'
        assert r.headers["ratelimit"].startswith(f'"per-api-key";r={left};t=')
    refused = await client.get("/api/v1/customers", headers=headers)
    assert refused.status_code == 429
    assert refused.json()["type"] == "urn:tessera:problem:rate-limited"
    assert int(refused.headers["retry-after"]) >= 1
    assert refused.headers["ratelimit"].startswith('"per-api-key";r=0;')
    # Another key has a window of its own (at the default limit).
    r = await client.get("/api/v1/customers", headers=key_header(other["key"]))
    assert r.status_code == 503 and r.headers["ratelimit-policy"] == '"per-api-key";q=1200;w=60'
    # The gateway's own endpoints count and report too (a token's policy).
    own = await client.get("/api/v1/api-keys", headers=admin)
    assert own.status_code == 200
    assert own.headers["ratelimit-policy"] == '"per-token";q=1200;w=60'
    assert own.headers["ratelimit"].startswith('"per-token";r=')
    left = int(own.headers["ratelimit"].split(";r=")[1].split(";")[0])
    # A query the gateway's own endpoint refuses (an unknown parameter, a bad fields=) is counted
    # and reports the fields too; without a token it is the 401 it would have been.
    for refused_query in ("/api/v1/api-keys?colour=red", "/api/v1/audit-log?fields=nope"):
        r = await client.get(refused_query, headers=admin)
        assert r.status_code == 422, r.text
        assert r.headers["ratelimit-policy"] == '"per-token";q=1200;w=60'
    assert r.headers["ratelimit"].startswith(f'"per-token";r={left - 2};')
    assert (await client.get("/api/v1/api-keys?colour=red")).status_code == 401


async def test_a_key_works_through_the_gateway_before_any_service_learns_it(databases: DatabaseFactory) -> None:
    """The gateway checks the key and speaks for it upstream with a token of its own, so a key works
    through the gateway from the answer that created it: here the customer service has Kafka off
    and never learns the key (called directly it refuses it), yet the call through the gateway
    succeeds, acting with the key's roles; revoked, it stops at the gateway at once."""
    gw_db = await databases.new("gateway", "postgres", migrations_of(gateway_main.__file__))
    cu_db = await databases.new("customer", "postgres", migrations_of(customer_main.__file__))
    customer = customer_main.create_app(
        CustomerSettings(database_url=cu_db, kafka_enabled=False, jobs_enabled=False, log_json=False)
    )
    gateway = create_app(
        GatewaySettings(database_url=gw_db, view_cache_enabled=False, customer_url=CUSTOMER, log_json=False),
        mounts={CUSTOMER: httpx2.ASGITransport(app=customer)},
    )
    async with running(customer) as direct, running(gateway) as client:
        created = await create_key(client, bearer(gateway, "admin", "admin"))
        headers = key_header(created["key"])
        assert (await direct.get("/v1/customers", headers=headers)).status_code == 401  # unknown there
        r = await client.post(
            "/api/v1/customers", json={"kind": "organization", "name": "At Once Ltd"}, headers=headers
        )
        assert r.status_code == 201, r.text
        assert (await client.get("/api/v1/customers", headers=headers)).status_code == 200
        assert (
            await client.delete(f"/api/v1/api-keys/{created['id']}", headers=bearer(gateway, "admin", "admin"))
        ).status_code == 204
        r = await client.get("/api/v1/customers", headers=headers)
        assert (r.status_code, r.json()["type"]) == (401, "urn:tessera:problem:api-key-revoked")
