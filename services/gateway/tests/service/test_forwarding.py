"""/api/v1/* is forwarded to the owning service with the caller's identity."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import httpx2
import orjson
import pytest
import uvicorn
from fastapi import FastAPI

import tessera_customer.main as customer_main
import tessera_gateway.main as gateway_main
from tessera_customer.settings import CustomerSettings
from tessera_gateway.main import create_app
from tessera_gateway.proxy.routes import owner_of
from tessera_gateway.settings import GatewaySettings
from tessera_shared.testing.builders import customer_payload
from tessera_shared.testing.plugin import migrations_of, running


async def token(client: httpx.AsyncClient, user: str) -> dict[str, str]:
    r = await client.post("/auth/token", data={"grant_type": "password", "username": user, "password": "local"})
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


@asynccontextmanager
async def served(app: FastAPI) -> AsyncIterator[str]:
    """The app on a real uvicorn server in this event loop (lifespan included); yields its URL."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="on"))
    task = asyncio.create_task(server.serve())
    try:
        for _ in range(400):
            if server.started:
                break
            await asyncio.sleep(0.05)
        assert server.started, "the upstream did not start"
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


# Both ways the gateway reaches a service: an in-process transport (mounted, httpx2) and a real
# server over the hop's own keep-alive pool (served, proxy/upstream.py), as in production.
@pytest.fixture(params=["mounted", "served"])
async def stack(request, databases, backend):
    url = await databases.new("customer", backend, migrations_of(customer_main.__file__))
    customer = customer_main.create_app(CustomerSettings(database_url=url, kafka_enabled=False, log_json=False))
    gateway_db = await databases.new("gateway", backend, migrations_of(gateway_main.__file__))
    settings = {"database_url": gateway_db, "log_json": False, "billing_url": "http://127.0.0.1:1"}
    if request.param == "mounted":
        gateway = create_app(
            GatewaySettings(**settings, customer_url="http://customer.test"),
            mounts={"http://customer.test": httpx2.ASGITransport(app=customer)},
        )
        async with customer.router.lifespan_context(customer), running(gateway) as client:
            client.gateway = gateway  # type: ignore[attr-defined]
            yield client
        return
    async with served(customer) as customer_url:
        gateway = create_app(GatewaySettings(**settings, customer_url=customer_url))
        async with running(gateway) as client:
            assert set(gateway.state.upstream_pools) >= {"customer", "billing"}
            client.gateway = gateway  # type: ignore[attr-defined]
            yield client


async def test_no_token_is_401_at_the_gateway(stack: httpx.AsyncClient) -> None:
    r = await stack.get("/api/v1/customers")
    assert r.status_code == 401
    assert r.headers["content-type"] == "application/problem+json"


async def test_forwards_with_the_callers_identity(stack: httpx.AsyncClient) -> None:
    rep = await token(stack, "rep1")
    r = await stack.post("/api/v1/customers", json=customer_payload(), headers={**rep, "X-Request-ID": "req-42"})
    assert r.status_code == 201, r.text
    assert r.json()["owner_id"] == "rep1"  # the customer service saw rep1, not the gateway
    assert r.headers["x-request-id"] == "req-42"
    assert r.headers["location"].endswith(r.json()["id"])
    got = await stack.get(f"/api/v1/customers/{r.json()['id']}", headers=rep)
    assert got.status_code == 200
    assert got.headers["etag"] == r.headers["etag"]


async def test_services_check_roles_themselves(stack: httpx.AsyncClient) -> None:
    partner = (
        await stack.post(
            "/auth/token", data={"grant_type": "client_credentials", "client_id": "partner", "client_secret": "local"}
        )
    ).json()["access_token"]
    r = await stack.get("/api/v1/customers", headers={"Authorization": f"Bearer {partner}"})
    assert r.status_code == 403
    assert r.json()["type"] == "urn:tessera:problem:forbidden"


async def test_idempotency_key_is_forwarded(stack: httpx.AsyncClient) -> None:
    headers = {**await token(stack, "admin"), "Idempotency-Key": "gw-1"}
    body = customer_payload()
    first = await stack.post("/api/v1/customers", json=body, headers=headers)
    second = await stack.post("/api/v1/customers", json=body, headers=headers)
    assert second.json()["id"] == first.json()["id"]
    assert second.headers["idempotent-replayed"] == "true"


async def test_upstream_problems_pass_through(stack: httpx.AsyncClient) -> None:
    r = await stack.post("/api/v1/customers", json={"kind": "robot"}, headers=await token(stack, "admin"))
    assert r.status_code == 422
    assert r.headers["content-type"] == "application/problem+json"
    assert {e["field"] for e in r.json()["errors"]} == {"kind", "name"}


async def test_unknown_resource_is_404(stack: httpx.AsyncClient) -> None:
    r = await stack.get("/api/v1/spaceships", headers=await token(stack, "admin"))
    assert r.status_code == 404


async def test_dead_upstream_is_503_problem(stack: httpx.AsyncClient) -> None:
    r = await stack.get("/api/v1/invoices", headers=await token(stack, "admin"))
    assert r.status_code == 503
    assert r.json()["type"] == "urn:tessera:problem:upstream-unavailable"
    assert r.json()["service"] == "billing"


@pytest.mark.parametrize(
    ("path", "owner"),
    [
        ("customers/1/360", "customer"),
        ("segments", "customer"),
        ("deals/9/win", "sales"),
        ("pipelines/9/stages/demo", "sales"),
        ("reports/forecast", "sales"),
        ("reports/aging", "billing"),
        ("tickets", "service-desk"),
        ("kb/articles", "service-desk"),
        ("credit/1/check", "billing"),
        ("loyalty-payments/1", "billing"),
        ("reports", None),
        ("nope", None),
    ],
)
def test_owner_of(path: str, owner: str | None) -> None:
    assert owner_of(path) == owner


@pytest.mark.sqlite
async def test_personal_data_reads_are_audited_for_admins(stack: httpx.AsyncClient) -> None:
    rep = await token(stack, "rep1")
    created = (await stack.post("/api/v1/customers", json=customer_payload(), headers=rep)).json()
    await stack.get(f"/api/v1/customers/{created['id']}", headers=rep)
    await stack.get("/api/v1/customers", headers=rep)
    assert (await stack.get("/api/v1/audit-log", headers=rep)).status_code == 403
    admin = await token(stack, "admin")
    r = await stack.get("/api/v1/audit-log", params={"customer_id": created["id"]}, headers=admin)
    assert r.status_code == 200
    (entry,) = r.json()["items"]
    assert (entry["subject"], entry["method"], entry["status"]) == ("rep1", "GET", 200)
    assert entry["path"] == f"/api/v1/customers/{created['id']}"
    everything = (await stack.get("/api/v1/audit-log", params={"subject": "rep1"}, headers=admin)).json()["items"]
    assert len(everything) == 2  # the POST is a write, not a read of personal data


def comparable(r: httpx.Response) -> tuple[int, list[tuple[str, str]], bytes]:
    """An answer without what differs between two requests (the limit's count)."""
    varying = {"ratelimit", "date"}
    return r.status_code, [(k, v) for k, v in r.headers.multi_items() if k not in varying], r.content


def other_id(an_id: str) -> str:
    """Another id of the same shape (its last digit changed; one ending in 0 must not stay itself)."""
    return an_id[:-1] + ("1" if an_id.endswith("0") else "0")


@pytest.mark.sqlite
async def test_fast_path_answers_as_the_general_path(stack: httpx.AsyncClient) -> None:
    """A plain forwarded GET skips the router (proxy/fast.py): same statuses, headers, problems
    (the gateway's instance) and audit rows as with the fast path off."""
    rep = await token(stack, "rep1")
    created = (await stack.post("/api/v1/customers", json=customer_payload(), headers=rep)).json()
    fast = stack.gateway.state.forward_fast_path  # type: ignore[attr-defined]  # set up at the first /api/v1 call
    gets = [
        (f"/api/v1/customers/{created['id']}", rep),  # 200, audited
        ("/api/v1/customers?limit=1", rep),  # a query string passed on
        (f"/api/v1/customers/{other_id(created['id'])}", rep),  # the customer service's 404
        ("/api/v1/invoices", rep),  # billing down: the gateway's 503
        ("/api/v1/customers/duplicates?x=1", rep),  # the service's 422 for an unknown parameter
    ]
    answers = {}
    for enabled in (True, False):
        fast.enabled = enabled
        served = fast.served
        answers[enabled] = [
            comparable(await stack.get(path, headers={**headers, "X-Request-ID": f"fast-{i}"}))
            for i, (path, headers) in enumerate(gets)
        ]
        assert fast.served - served == (len(gets) if enabled else 0)
    for (path, _), on, off in zip(gets, answers[True], answers[False], strict=True):
        assert on == off, path
    statuses = [status for status, _, _ in answers[True]]
    assert statuses[0] == 200 and statuses[2:4] == [404, 503], statuses
    headers = dict(answers[True][0][1])
    assert headers["cache-control"] == "no-store" and headers["x-content-type-options"] == "nosniff"
    assert headers["ratelimit-policy"].startswith('"per-token"')
    assert orjson.loads(answers[True][2][2])["instance"].startswith("/api/v1/customers/")
    # What the fast path does not take goes the general way: no token, the gateway's own routes.
    served = fast.served
    assert (await stack.get("/api/v1/customers")).status_code == 401
    assert (await stack.get(f"/api/v1/customers/{created['id']}/360", headers=rep)).status_code != 401
    assert fast.served == served
    admin = await token(stack, "admin")
    r = await stack.get("/api/v1/audit-log", params={"customer_id": created["id"]}, headers=admin)
    assert [e["path"] for e in r.json()["items"]].count(f"/api/v1/customers/{created['id']}") == 2


async def test_rate_limit_per_token(databases, backend) -> None:
    gateway_db = await databases.new("gateway", backend, migrations_of(gateway_main.__file__))
    app = create_app(
        GatewaySettings(
            database_url=gateway_db, log_json=False, rate_limit_per_minute=2, customer_url="http://127.0.0.1:1"
        )
    )
    async with running(app) as client:
        headers = await token(client, "admin")
        codes = [(await client.get("/api/v1/customers", headers=headers)).status_code for _ in range(3)]
        assert codes[:2] == [503, 503]  # let through (the upstream is down)
        r = await client.get("/api/v1/customers", headers=headers)
        assert r.status_code == 429
        assert r.headers["retry-after"]
        other = await token(client, "rep1")
        assert (await client.get("/api/v1/customers", headers=other)).status_code == 503


async def test_cors_for_configured_origins(databases) -> None:
    gateway_db = await databases.new("gateway", "sqlite", migrations_of(gateway_main.__file__))
    app = create_app(GatewaySettings(database_url=gateway_db, log_json=False, cors_origins=["https://app.example.com"]))
    async with running(app) as client:
        r = await client.options(
            "/api/v1/customers", headers={"Origin": "https://app.example.com", "Access-Control-Request-Method": "GET"}
        )
        assert r.headers["access-control-allow-origin"] == "https://app.example.com"
        r = await client.options(
            "/api/v1/customers", headers={"Origin": "https://evil.example.com", "Access-Control-Request-Method": "GET"}
        )
        assert "access-control-allow-origin" not in r.headers


async def test_only_the_import_route_takes_large_bodies(stack: httpx.AsyncClient) -> None:
    admin = await token(stack, "admin")
    header = "external_id,kind,name,email\n"
    filler = "x" * 180
    rows = "".join(f"ext-{n},person,Person {n} {filler},p{n}@example.com\n" for n in range(6_000))  # ~1.3 MB
    r = await stack.post(
        "/api/v1/customers/import", content=(header + rows).encode(), headers={**admin, "Content-Type": "text/csv"}
    )
    assert r.status_code == 200, r.text[:300]
    assert r.json()["created"] == 6_000
    big = await stack.post(
        "/api/v1/customers",
        content=b"{" + b" " * 2_000_000 + b"}",
        headers={**admin, "Content-Type": "application/json"},
    )
    assert big.status_code == 413
