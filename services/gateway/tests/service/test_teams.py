"""Teams (issue 24, part 4): CRUD with validation and events at the gateway, and the team level of
the owner rules conveyed by the gateway's signed X-Tessera-Team-Scope header: a team lead sees and
changes the members' deals through the gateway while each rep sees only their own."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import httpx2
import orjson
import pytest
from fastapi import FastAPI
from sqlalchemy import select

import tessera_gateway.main as gateway_main
import tessera_sales.main as sales_main
from tessera_gateway.main import create_app
from tessera_gateway.settings import GatewaySettings
from tessera_gateway.teams.scope import TeamScopes
from tessera_gateway.teams.service import local_team_id
from tessera_sales.testing import Api, deal_payload, sales_settings
from tessera_shared.auth import TEAM_SCOPE_HEADER
from tessera_shared.infra_tables import outbox
from tessera_shared.testing.customers import StubCustomers
from tessera_shared.testing.databases import DatabaseFactory
from tessera_shared.testing.plugin import bearer, migrations_of, running

SALES = "http://sales.test"


@pytest.fixture
async def gateway(databases: DatabaseFactory, backend: str) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """One gateway in local mode (its local accounts and teams), no upstream behind it."""
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


async def gateway_events(app: FastAPI, prefix: str = "team.") -> list[dict[str, Any]]:
    async with app.state.runtime.sessions() as s:
        stmt = select(outbox.c.event_type, outbox.c.envelope, outbox.c.key).order_by(outbox.c.created_at)
        rows = (await s.execute(stmt)).all()
    return [{"type": t, "key": k, **orjson.loads(e)} for t, e, k in rows if t.startswith(prefix)]


@pytest.mark.sqlite
async def test_managers_create_change_and_delete_teams_with_events(gateway: tuple[FastAPI, httpx.AsyncClient]) -> None:
    app, client = gateway
    manager, rep = bearer(app, "manager", "sales_manager"), bearer(app, "rep1", "sales_rep")
    body = {
        "key": "deal-desk",
        "name": "Deal desk",
        "lead": "lead1",
        "members": ["rep1", "rep2"],
        "territories": [{"country": "de", "region": "Bavaria"}],
    }
    r = await client.post("/api/v1/teams", json=body, headers=manager)
    assert r.status_code == 201, r.text
    team = r.json()
    assert r.headers["location"] == f"/api/v1/teams/{team['id']}"
    assert team["members"] == ["lead1", "rep1", "rep2"] and team["lead"] == "lead1" and team["version"] == 1
    assert team["territories"] == [{"country": "DE", "region": "Bavaria"}]
    # Every staff role reads; only managers (and admins) write.
    assert (await client.get(f"/api/v1/teams/{team['id']}", headers=rep)).json()["key"] == "deal-desk"
    assert (await client.post("/api/v1/teams", json={**body, "key": "other"}, headers=rep)).status_code == 403
    taken = await client.post("/api/v1/teams", json=body, headers=manager)
    assert (taken.status_code, taken.json()["type"]) == (409, "urn:tessera:problem:team-key-taken")
    unknown = await client.post(
        "/api/v1/teams", json={**body, "key": "x", "members": ["rep1", "nobody"]}, headers=manager
    )
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "members[1]"
    bad_key = await client.post("/api/v1/teams", json={**body, "key": "Not A Slug"}, headers=manager)
    assert bad_key.status_code == 422 and bad_key.json()["errors"][0]["field"] == "key"
    # A field the API does not take is named, not dropped (in the body and in a territory).
    for extra, field in (
        ({"colour": "red"}, "colour"),
        ({"territories": [{"country": "DE", "city": "x"}]}, "territories.0.city"),
    ):
        refused = await client.post("/api/v1/teams", json={**body, "key": "y", **extra}, headers=manager)
        assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == field, refused.text
    patched = await client.patch(f"/api/v1/teams/{team['id']}", json={"colour": "red"}, headers=manager)
    assert patched.status_code == 422 and patched.json()["errors"][0]["field"] == "colour", patched.text
    # The local teams were made at start (local mode), with ids derived from their keys.
    listed = (await client.get("/api/v1/teams", params={"limit": 200}, headers=rep)).json()["items"]
    assert {t["key"] for t in listed} >= {"deal-desk", "sales", "tier1"}
    assert next(t for t in listed if t["key"] == "sales")["id"] == str(local_team_id("sales"))
    led = (await client.get("/api/v1/teams", params={"lead": "lead1"}, headers=rep)).json()["items"]
    assert [t["key"] for t in led] == ["deal-desk"]
    # By key as well as by id; a key left out is made from the name.
    assert (await client.get("/api/v1/teams/deal-desk", headers=rep)).json()["id"] == team["id"]
    named = [
        (await client.post("/api/v1/teams", json={"name": "Sales North (DE)"}, headers=manager)).json()["key"]
        for _ in range(2)
    ]
    assert named == ["sales-north-de", "sales-north-de-2"]

    patched = await client.patch(
        f"/api/v1/teams/{team['id']}", json={"members": ["rep1"], "version": 1}, headers=manager
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["members"] == ["lead1", "rep1"] and patched.json()["version"] == 2
    stale = await client.patch(f"/api/v1/teams/{team['id']}", json={"name": "X", "version": 1}, headers=manager)
    assert stale.status_code == 409
    same = await client.patch(f"/api/v1/teams/{team['id']}", json={"members": ["rep1"]}, headers=manager)
    assert same.json()["version"] == 2  # nothing changed: no new version, no event
    assert (await client.delete(f"/api/v1/teams/{team['id']}", headers=manager)).status_code == 204
    assert (await client.get(f"/api/v1/teams/{team['id']}", headers=rep)).status_code == 404

    events = [e for e in await gateway_events(app) if e["key"] == team["id"]]
    assert [e["type"] for e in events] == ["team.created", "team.updated", "team.deleted"]
    assert [e["data"]["version"] for e in events] == [1, 2, 3]
    assert events[0]["data"]["members"] == ["lead1", "rep1", "rep2"] and events[0]["data"]["lead"] == "lead1"
    assert events[0]["data"]["territories"] == [{"country": "DE", "region": "Bavaria"}]
    assert events[1]["data"]["members"] == ["lead1", "rep1"]


@dataclass
class Stack:
    gateway: httpx.AsyncClient
    app: FastAPI
    sales: Api


@pytest.fixture
async def stack(databases: DatabaseFactory) -> AsyncIterator[Stack]:
    """The gateway forwarding to the sales service (both on PostgreSQL)."""
    gw_db = await databases.new("gateway", "postgres", migrations_of(gateway_main.__file__))
    sa_db = await databases.new("sales", "postgres", migrations_of(sales_main.__file__))
    sales = sales_main.create_app(sales_settings(sa_db))
    sales.state.customer_directory = StubCustomers()  # every id a live customer
    app = create_app(
        GatewaySettings(database_url=gw_db, log_json=False, view_cache_enabled=False, sales_url=SALES),
        mounts={SALES: httpx2.ASGITransport(app=sales)},
    )
    async with running(sales) as sales_client, running(app) as client:
        yield Stack(client, app, Api(sales, sales_client))


async def deal_as(stack: Stack, user: str) -> dict[str, Any]:
    payload = deal_payload()
    await stack.sales.credit_known(uuid.UUID(payload["customer_id"]))
    r = await stack.gateway.post("/api/v1/deals", json=payload, headers=bearer(stack.app, user, "sales_rep"))
    assert r.status_code == 201, r.text
    deal: dict[str, Any] = r.json()
    return deal


async def deal_ids(stack: Stack, user: str, **params: str) -> set[str]:
    r = await stack.gateway.get("/api/v1/deals", params=params, headers=bearer(stack.app, user, "sales_rep"))
    assert r.status_code == 200, r.text
    return {d["id"] for d in r.json()["items"]}


async def test_a_team_lead_sees_and_changes_the_members_deals_each_rep_only_their_own(stack: Stack) -> None:
    manager = bearer(stack.app, "manager", "sales_manager")
    r = await stack.gateway.post(
        "/api/v1/teams",
        json={"key": "north", "name": "North", "lead": "lead1", "members": ["rep1", "rep2"]},
        headers=manager,
    )
    assert r.status_code == 201, r.text
    team_id = r.json()["id"]
    d1, d2, own = await deal_as(stack, "rep1"), await deal_as(stack, "rep2"), await deal_as(stack, "lead1")
    outsider = await deal_as(stack, "rep9")

    assert await deal_ids(stack, "lead1") == {d1["id"], d2["id"], own["id"]}
    assert await deal_ids(stack, "rep1") == {d1["id"]}
    assert await deal_ids(stack, "rep2") == {d2["id"]}
    assert await deal_ids(stack, "lead1", owner_id="rep2") == {d2["id"]}
    assert await deal_ids(stack, "lead1", owner_id="rep9") == set()
    lead, rep2 = bearer(stack.app, "lead1", "sales_rep"), bearer(stack.app, "rep2", "sales_rep")
    read = await stack.gateway.get(f"/api/v1/deals/{d1['id']}", headers=lead)
    assert read.status_code == 200
    assert (await stack.gateway.get(f"/api/v1/deals/{outsider['id']}", headers=lead)).status_code == 404
    assert (await stack.gateway.get(f"/api/v1/deals/{d1['id']}", headers=rep2)).status_code == 404
    changed = await stack.gateway.patch(
        f"/api/v1/deals/{d1['id']}",
        json={"title": "Renamed by the lead"},
        headers={**lead, "If-Match": read.headers["etag"]},
    )
    assert changed.status_code == 200, changed.text
    search = await stack.gateway.post("/api/v1/deals/search", json={}, headers=lead)
    assert search.status_code == 200 and {d["id"] for d in search.json()["items"]} == {d1["id"], d2["id"], own["id"]}

    # The ?expand= reads the gateway makes for the lead carry the scope too: rep1's deal is embedded.
    r = await stack.gateway.post(
        "/api/v1/activities",
        json={"kind": "note", "subject": "Called", "deal_id": d1["id"]},
        headers=bearer(stack.app, "rep1", "sales_rep"),
    )
    assert r.status_code == 201, r.text
    r = await stack.gateway.get("/api/v1/activities", params={"expand": "deal"}, headers=lead)
    assert r.status_code == 200, r.text
    expanded = {a["deal_id"]: a["deal"] for a in r.json()["items"]}
    assert expanded[d1["id"]] is not None and expanded[d1["id"]]["id"] == d1["id"]

    # A scope header sent by a client never reaches the service, even one the gateway's key signed.
    forged = stack.app.state.token_codec.issue_team_scope("rep2", [team_id], ["rep1", "rep2"])
    r = await stack.gateway.get("/api/v1/deals", headers={**rep2, TEAM_SCOPE_HEADER: forged})
    assert {d["id"] for d in r.json()["items"]} == {d2["id"]}
    # Directly at the service, the signed header widens the lead's scope; another's is ignored.
    direct = stack.sales.client
    signed = stack.app.state.token_codec.issue_team_scope("lead1", [team_id], ["rep1", "rep2", "lead1"])
    r = await direct.get("/v1/deals", headers={**lead, TEAM_SCOPE_HEADER: signed})
    assert {d["id"] for d in r.json()["items"]} == {d1["id"], d2["id"], own["id"]}
    r = await direct.get("/v1/deals", headers={**rep2, TEAM_SCOPE_HEADER: signed})
    assert {d["id"] for d in r.json()["items"]} == {d2["id"]}

    # The scope costs no read per request: the teams are read at most once a second.
    scopes: TeamScopes = stack.app.state.team_scopes
    reads, started = scopes.reads, time.monotonic()
    for _ in range(30):
        await deal_ids(stack, "lead1")
    assert scopes.reads - reads <= 1 + (time.monotonic() - started) / scopes.ttl

    # Members leave: the lead sees only their own from the next request (this replica).
    r = await stack.gateway.patch(f"/api/v1/teams/{team_id}", json={"members": []}, headers=manager)
    assert r.status_code == 200, r.text
    assert await deal_ids(stack, "lead1") == {own["id"]}


async def test_a_change_through_another_replica_is_seen_within_a_second(
    stack: Stack, databases: DatabaseFactory
) -> None:
    scopes: TeamScopes = stack.app.state.team_scopes
    other = TeamScopes(stack.app.state.runtime.sessions, stack.app.state.token_codec)
    assert await other.header_for("lead1") is None
    manager = bearer(stack.app, "manager", "sales_manager")
    r = await stack.gateway.post(
        "/api/v1/teams", json={"key": "south", "name": "South", "lead": "lead1", "members": ["rep2"]}, headers=manager
    )
    assert r.status_code == 201
    assert await scopes.header_for("lead1") is not None  # this replica: at once
    started = time.monotonic()
    while await other.header_for("lead1") is None:
        assert time.monotonic() - started < other.ttl + 0.5
        await asyncio.sleep(0.05)
    value = await other.header_for("lead1")
    assert value is not None and value == await other.header_for("lead1")  # signed once, then kept
    teams, members = stack.app.state.token_codec.verify_team_scope(value, "lead1")
    assert teams == {r.json()["id"]} and members == {"lead1", "rep2"}
