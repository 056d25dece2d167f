"""?expand= through the gateway (issue 23, item 3): a deal with its customer, a page of deals with
their customers in ONE upstream batch read, the caller's own view of what is embedded, and a 422
naming an expansion the path does not offer (the service never sees ``expand``)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import httpx2
import orjson
import pytest

import tessera_customer.main as customer_main
import tessera_gateway.main as gateway_main
import tessera_sales.main as sales_main
import tessera_service_desk.main as desk_main
from tessera_customer.settings import CustomerSettings
from tessera_gateway.main import create_app
from tessera_gateway.settings import GatewaySettings
from tessera_sales.settings import SalesSettings
from tessera_service_desk.settings import ServiceDeskSettings
from tessera_shared.testing.builders import customer_payload
from tessera_shared.testing.customers import StubCustomers
from tessera_shared.testing.plugin import migrations_of, running

pytestmark = pytest.mark.sqlite


class Recorder:
    """An upstream app that notes every request (method, path, query) it is sent."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.calls: list[tuple[str, str, str]] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            self.calls.append((scope["method"], scope["path"], scope.get("query_string", b"").decode()))
        await self.app(scope, receive, send)


@pytest.fixture
async def stack(databases: Any, backend: str) -> AsyncIterator[tuple[httpx.AsyncClient, dict[str, Recorder]]]:
    apps, recorders, mounts = [], {}, {}
    for name, module, settings_cls in (
        ("customer", customer_main, CustomerSettings),
        ("sales", sales_main, SalesSettings),
        ("service-desk", desk_main, ServiceDeskSettings),
    ):
        db = await databases.new(name, backend, migrations_of(module.__file__))
        app = module.create_app(settings_cls(database_url=db, kafka_enabled=False, jobs_enabled=False, log_json=False))
        app.state.customer_directory = StubCustomers()  # no events carry the customers here
        apps.append(app)
        recorders[name] = Recorder(app)
        mounts[f"http://{name}.test"] = httpx2.ASGITransport(app=recorders[name])
    gw_db = await databases.new("gateway", backend, migrations_of(gateway_main.__file__))
    gateway = create_app(
        GatewaySettings(
            database_url=gw_db,
            log_json=False,
            customer_url="http://customer.test",
            sales_url="http://sales.test",
            service_desk_url="http://service-desk.test",
            billing_url="http://127.0.0.1:1",
            notifications_url="http://127.0.0.1:1",
            view_cache_enabled=False,
        ),
        mounts=mounts,
    )
    contexts = [app.router.lifespan_context(app) for app in apps]
    for ctx in contexts:
        await ctx.__aenter__()
    try:
        async with running(gateway) as client:
            client.gateway = gateway  # type: ignore[attr-defined]
            yield client, recorders
    finally:
        for ctx in reversed(contexts):
            await ctx.__aexit__(None, None, None)


async def login(client: httpx.AsyncClient, user: str) -> dict[str, str]:
    r = await client.post("/auth/token", data={"grant_type": "password", "username": user, "password": "local"})
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


async def post(client: httpx.AsyncClient, path: str, body: dict[str, Any], headers: dict[str, str]) -> dict[str, Any]:
    r = await client.post(path, json=body, headers=headers)
    assert r.status_code == 201, r.text
    return r.json()


def deal(customer_id: str, **more: Any) -> dict[str, Any]:
    return {"customer_id": customer_id, "title": "Licences", "amount": "100.00", "currency": "EUR", **more}


async def test_a_deal_and_a_page_of_deals_with_their_customers(
    stack: tuple[httpx.AsyncClient, dict[str, Recorder]],
) -> None:
    client, upstream = stack
    rep = await login(client, "rep1")
    customers = [await post(client, "/api/v1/customers", customer_payload(), rep) for _ in range(3)]
    deals = [await post(client, "/api/v1/deals", deal(customers[i % 3]["id"]), rep) for i in range(6)]

    r = await client.get(f"/api/v1/deals/{deals[0]['id']}", params={"expand": "customer"}, headers=rep)
    assert r.status_code == 200, r.text
    one = r.json()
    assert one["customer"]["id"] == customers[0]["id"] == one["customer_id"]
    assert one["customer"]["name"] == customers[0]["name"]
    assert "etag" not in r.headers  # the deal's ETag does not name what is embedded

    upstream["customer"].calls.clear()
    upstream["sales"].calls.clear()
    r = await client.get("/api/v1/deals", params={"expand": "customer", "limit": 200}, headers=rep)
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    assert len(items) == 6
    assert all(d["customer"]["id"] == d["customer_id"] for d in items)
    # One batch read of the page's customers, not one call per deal; the service never saw expand.
    assert upstream["customer"].calls == [("POST", "/v1/customers/batch/read", "")]
    assert upstream["sales"].calls == [("GET", "/v1/deals", "limit=200")]

    plain = await client.get("/api/v1/deals", params={"limit": 200}, headers=rep)
    assert "customer" not in plain.json()["items"][0]

    # ?fields= may name the expansion: it is the gateway's to add, not a field the service refuses.
    for path in (f"/api/v1/deals/{deals[0]['id']}", "/api/v1/deals"):
        r = await client.get(path, params={"expand": "customer", "fields": "id,title,customer"}, headers=rep)
        assert r.status_code == 200, r.text
        record = r.json() if path.endswith(deals[0]["id"]) else r.json()["items"][0]
        assert set(record) == {"id", "title", "customer_id", "customer"}
        assert record["customer"]["id"] == record["customer_id"]
    r = await client.get("/api/v1/deals", params={"fields": "id,customer"}, headers=rep)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "fields"  # not expanded: not a field

    # These GETs are served by the forwarding fast path (proxy/fast.py), not the router: the same
    # answers (embedded records, the 422 naming an unknown expansion) as with it off.
    gets = [
        ("/api/v1/deals?limit=200&expand=customer", 200),
        (f"/api/v1/deals/{deals[0]['id']}?expand=customer", 200),
        ("/api/v1/deals?expand=colour", 422),
    ]
    fast = client.gateway.state.forward_fast_path  # type: ignore[attr-defined]
    answers: dict[bool, list[tuple[int, list[tuple[str, str]], bytes]]] = {}
    for enabled in (True, False):
        fast.enabled, served = enabled, fast.served
        answers[enabled] = []
        for i, (path, status) in enumerate(gets):
            r = await client.get(path, headers={**rep, "X-Request-ID": f"expand-{i}"})
            assert r.status_code == status, r.text
            headers = [(k, v) for k, v in r.headers.multi_items() if k not in ("ratelimit", "date")]
            answers[enabled].append((r.status_code, headers, r.content))
        assert fast.served - served == (len(gets) if enabled else 0)
    assert answers[True] == answers[False]
    assert len([d for d in orjson.loads(answers[True][0][2])["items"] if d["customer"]]) == 6


async def test_unknown_expansion_is_a_422_naming_it(stack: tuple[httpx.AsyncClient, dict[str, Recorder]]) -> None:
    client, upstream = stack
    rep = await login(client, "rep1")
    upstream["sales"].calls.clear()
    r = await client.get("/api/v1/deals", params={"expand": "colour"}, headers=rep)
    assert r.status_code == 422, r.text
    problem = r.json()
    assert problem["errors"][0]["field"] == "expand" and problem["errors"][0]["location"] == "query"
    assert "'colour'" in problem["errors"][0]["message"]
    assert problem["instance"] == "/api/v1/deals"
    assert upstream["sales"].calls == []  # refused before forwarding
    r = await client.get("/api/v1/customers", params={"expand": "customer"}, headers=rep)
    assert r.status_code == 422


async def test_embedded_records_are_what_the_caller_may_read(
    stack: tuple[httpx.AsyncClient, dict[str, Recorder]],
) -> None:
    client, _ = stack
    manager, rep1 = await login(client, "manager"), await login(client, "rep1")
    customer = await post(client, "/api/v1/customers", customer_payload(), manager)
    theirs = await post(client, "/api/v1/deals", deal(customer["id"], owner_id="rep2"), manager)
    call = {"kind": "call", "subject": "Intro", "deal_id": theirs["id"], "owner_id": "rep1"}
    activity = await post(client, "/api/v1/activities", call, manager)
    r = await client.get(f"/api/v1/activities/{activity['id']}", params={"expand": "deal,customer"}, headers=rep1)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["deal_id"] == theirs["id"] and body["deal"] is None  # rep1 may not read rep2's deal
    assert body["customer"]["id"] == customer["id"]
    r = await client.get(f"/api/v1/activities/{activity['id']}", params={"expand": "deal"}, headers=manager)
    assert r.json()["deal"]["id"] == theirs["id"]

    agent = await login(client, "agent")
    ticket = {"customer_id": customer["id"], "subject": "Broken", "description": "It broke", "channel": "email"}
    made = await post(client, "/api/v1/tickets", ticket, agent)
    r = await client.get("/api/v1/tickets", params={"expand": "customer"}, headers=agent)
    assert r.status_code == 200, r.text
    [listed] = [t for t in r.json()["items"] if t["id"] == made["id"]]
    assert listed["customer"]["id"] == customer["id"]


async def test_expand_is_in_the_merged_document(stack: tuple[httpx.AsyncClient, dict[str, Recorder]]) -> None:
    client, _ = stack
    for _ in range(100):  # the gateway merges the services' documents in the background
        doc = (await client.get("/openapi.json")).json()
        if "/api/v1/deals" in doc["paths"]:
            break
        await asyncio.sleep(0.1)
    for path in ("/api/v1/deals", "/api/v1/deals/{deal_id}", "/api/v1/invoices", "/api/v1/tickets/{ticket_id}"):
        params = {p["name"]: p for p in doc["paths"].get(path, {}).get("get", {}).get("parameters", [])}
        if path.startswith(("/api/v1/deals", "/api/v1/tickets")):
            assert params["expand"]["in"] == "query", path
            assert "customer" in params["expand"]["schema"]["pattern"]
    assert "expand" not in {p["name"] for p in doc["paths"]["/api/v1/customers"]["get"].get("parameters", [])}
