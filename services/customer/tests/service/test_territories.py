"""Territory routing in the customer service (docs/domain.md §12): a new customer whose country
and region match a team's territory belongs to that team (team_id in the record, the list filter
and customer.created); a manager may name the team; the copy of teams follows the gateway's
team.* events with a version guard."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson
import pytest
from fastapi import FastAPI
from sqlalchemy import select

import tessera_customer.main as customer_main
from tessera_customer.settings import CustomerSettings
from tessera_customer.teams import KNOWN_TEAMS
from tessera_shared.db import unit_of_work
from tessera_shared.events import build_event
from tessera_shared.events.contracts.gateway import TeamCreated, TeamDeleted, TeamTerritory, TeamUpdated
from tessera_shared.infra_tables import outbox
from tessera_shared.testing.databases import DatabaseFactory
from tessera_shared.testing.plugin import bearer, migrations_of, running

pytestmark = pytest.mark.sqlite

NORTH, SOUTH = uuid.uuid4(), uuid.uuid4()


@pytest.fixture
async def app(databases: DatabaseFactory, backend: str) -> FastAPI:
    url = await databases.new("customer", backend, migrations_of(customer_main.__file__))
    settings = CustomerSettings(database_url=url, kafka_enabled=False, log_json=False, jobs_enabled=False)
    return customer_main.create_app(settings)


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with running(app) as c:
        yield c


def team(
    cls: type[TeamCreated] | type[TeamUpdated] | type[TeamDeleted],
    team_id: uuid.UUID,
    key: str,
    version: int,
    *territories: tuple[str | None, str | None],
) -> TeamCreated | TeamUpdated | TeamDeleted:
    return cls(
        team_id=team_id,
        key=key,
        name=key.title(),
        lead=f"{key}-lead",
        members=[f"{key}-lead", "rep1"],
        territories=[TeamTerritory(country=c, region=r) for c, r in territories],
        version=version,
        updated_at=datetime.now(UTC),
    )


async def consume(app: FastAPI, data: TeamCreated | TeamUpdated | TeamDeleted) -> None:
    handler = customer_main.spec(app.state.settings).handlers[data.event_type]
    async with unit_of_work(app.state.runtime.sessions) as s:
        await handler(s, build_event(data, subject=data.team_id), data)


async def create(client: httpx.AsyncClient, app: FastAPI, who: str = "rep1", **body: object) -> httpx.Response:
    roles = "sales_manager" if who == "manager" else "sales_rep"
    return await client.post(
        "/v1/customers", json={"kind": "person", "name": "Ada", **body}, headers=bearer(app, who, roles)
    )


async def test_new_customers_are_routed_to_the_territorys_team(app: FastAPI, client: httpx.AsyncClient) -> None:
    await consume(app, team(TeamCreated, NORTH, "north", 1, ("DE", None)))
    await consume(app, team(TeamCreated, SOUTH, "south", 1, ("DE", "Bavaria")))
    r = await create(client, app, segmentation={"geographic": {"country": "DE", "region": "Bavaria"}})
    assert r.status_code == 201, r.text
    assert r.json()["team_id"] == str(SOUTH)
    r = await create(client, app, segmentation={"geographic": {"country": "DE", "region": "Saxony"}})
    assert r.json()["team_id"] == str(NORTH)
    r = await create(client, app, segmentation={"geographic": {"country": "FR"}})
    assert r.json()["team_id"] is None
    manager = bearer(app, "manager", "sales_manager")
    listed = (await client.get(f"/v1/customers?team_id={NORTH}", headers=manager)).json()["items"]
    assert [c["team_id"] for c in listed] == [str(NORTH)]
    async with app.state.runtime.sessions() as s:
        rows = (await s.execute(select(outbox.c.envelope).where(outbox.c.event_type == "customer.created"))).scalars()
        teams = [orjson.loads(e)["data"].get("team_id") for e in rows]
    assert sorted(teams, key=str) == sorted([str(SOUTH), str(NORTH), None], key=str)


async def test_a_manager_names_the_team_a_rep_may_not(app: FastAPI, client: httpx.AsyncClient) -> None:
    await consume(app, team(TeamCreated, NORTH, "north", 1, ("DE", None)))
    r = await create(client, app, "manager", team_id=str(NORTH), segmentation={"geographic": {"country": "FR"}})
    assert r.status_code == 201 and r.json()["team_id"] == str(NORTH)
    assert (await create(client, app, team_id=str(NORTH))).status_code == 403
    r = await create(client, app, "manager", team_id=str(uuid.uuid4()))
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "team_id"


async def test_the_copy_keeps_the_newest_version_and_forgets_deleted_teams(app: FastAPI) -> None:
    await consume(app, team(TeamCreated, NORTH, "north", 1, ("DE", None)))
    await consume(app, team(TeamUpdated, NORTH, "north", 3, ("AT", None)))
    await consume(app, team(TeamUpdated, NORTH, "north", 2, ("DE", None)))  # late, older: loses
    async with app.state.runtime.sessions() as s:
        assert await KNOWN_TEAMS.route(s, "AT", None) == NORTH
        assert await KNOWN_TEAMS.route(s, "DE", None) is None
    await consume(app, team(TeamDeleted, NORTH, "north", 4, ("AT", None)))
    await consume(app, team(TeamUpdated, NORTH, "north", 3, ("AT", None)))  # does not bring it back
    async with app.state.runtime.sessions() as s:
        assert await KNOWN_TEAMS.route(s, "AT", None) is None
        assert await KNOWN_TEAMS.get(s, NORTH) is None


async def test_batch_upsert_and_import_route_new_customers_as_a_single_create(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    await consume(app, team(TeamCreated, NORTH, "north", 1, ("DE", None)))
    await consume(app, team(TeamCreated, SOUTH, "south", 1, ("DE", "Bavaria")))
    manager = bearer(app, "manager", "sales_manager")
    inputs: list[dict[str, Any]] = [
        {"external_id": "b-1", "kind": "person", "name": "A", "segmentation": {"geographic": {"country": "DE"}}},
        {
            "external_id": "b-2",
            "kind": "person",
            "name": "B",
            "segmentation": {"geographic": {"country": "DE", "region": "Bavaria"}},
        },
        {"external_id": "b-3", "kind": "person", "name": "C", "segmentation": {"geographic": {"country": "FR"}}},
        {"external_id": "b-4", "kind": "person", "name": "D", "team_id": str(SOUTH)},
        {"external_id": "b-5", "kind": "person", "name": "E", "team_id": str(uuid.uuid4())},
    ]
    r = await client.post(
        "/v1/customers/batch/upsert", json={"id_property": "external_id", "inputs": inputs}, headers=manager
    )
    assert r.status_code == 207, r.text
    results = r.json()["results"]
    assert [x["status"] for x in results] == ["created"] * 4 + ["error"]
    assert results[4]["problem"]["errors"][0]["field"] == "inputs[4].team_id"
    # A rep may not name the team, as in a single create.
    rep = bearer(app, "rep1", "sales_rep")
    r = await client.post(
        "/v1/customers/batch/upsert",
        json={"id_property": "external_id", "inputs": [{**inputs[3], "external_id": "b-6"}]},
        headers=rep,
    )
    assert r.json()["results"][0]["problem"]["status"] == 403

    lines = [
        {"external_id": "i-1", "kind": "person", "name": "F", "segmentation": {"geographic": {"country": "DE"}}},
        {"external_id": "i-2", "kind": "person", "name": "G", "team_id": str(uuid.uuid4())},
        {"external_id": "i-3", "kind": "person", "name": "H", "team_id": str(SOUTH)},
    ]
    r = await client.post(
        "/v1/customers/import/ndjson",
        content="\n".join(orjson.dumps(x).decode() for x in lines).encode(),
        headers={**manager, "content-type": "application/x-ndjson"},
    )
    assert r.status_code == 200, r.text
    assert (r.json()["created"], [(e["line"], e["field"]) for e in r.json()["errors"]]) == (2, [(2, "team_id")])
    r = await client.post(
        "/v1/customers/import/csv",
        content=b"external_id,kind,name,country,region\nc-1,person,I,DE,Bavaria\nc-2,person,J,FR,\n",
        headers={**manager, "content-type": "text/csv"},
    )
    assert r.status_code == 200 and r.json()["created"] == 2, r.text

    listed = (await client.get("/v1/customers", params={"limit": 50}, headers=manager)).json()["items"]
    teams = {c["name"]: c["team_id"] for c in listed}
    assert teams == {
        "A": str(NORTH),
        "B": str(SOUTH),
        "C": None,
        "D": str(SOUTH),
        "F": str(NORTH),
        "H": str(SOUTH),
        "I": str(SOUTH),
        "J": None,
    }
    async with app.state.runtime.sessions() as s:
        rows = (await s.execute(select(outbox.c.envelope).where(outbox.c.event_type == "customer.created"))).scalars()
        announced = {orjson.loads(e)["data"]["name"]: orjson.loads(e)["data"].get("team_id") for e in rows}
    assert announced == teams
