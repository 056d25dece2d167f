"""The customer service's share of a bulk ownership transfer: every live customer of the leaving
owner moves, with customer.updated and a timeline line; merged and other owners' customers stay."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import orjson
import pytest
from fastapi import FastAPI
from sqlalchemy import select

import tessera_customer.main as customer_main
from tessera_customer.settings import CustomerSettings
from tessera_customer.transfers import TRANSFERS
from tessera_shared.infra_tables import outbox
from tessera_shared.ownership.service import run_transfers
from tessera_shared.testing.databases import DatabaseFactory
from tessera_shared.testing.plugin import bearer, migrations_of, running

pytestmark = pytest.mark.sqlite


@pytest.fixture
async def app(databases: DatabaseFactory, backend: str) -> FastAPI:
    url = await databases.new("customer", backend, migrations_of(customer_main.__file__))
    settings = CustomerSettings(database_url=url, kafka_enabled=False, log_json=False, jobs_enabled=False)
    return customer_main.create_app(settings)


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with running(app) as c:
        yield c


async def events(app: FastAPI, event_type: str) -> list[dict[str, object]]:
    async with app.state.runtime.sessions() as s:
        rows = (await s.execute(select(outbox.c.envelope).where(outbox.c.event_type == event_type))).scalars()
        return [orjson.loads(e) for e in rows]


async def test_a_leaving_owners_customers_move_with_their_events(app: FastAPI, client: httpx.AsyncClient) -> None:
    manager = bearer(app, "manager", "sales_manager")
    made = []
    for name, owner in (("A", "rep1"), ("B", "rep1"), ("C", "rep2")):
        r = await client.post(
            "/v1/customers", json={"kind": "person", "name": name, "owner_id": owner}, headers=manager
        )
        assert r.status_code == 201, r.text
        made.append(r.json())
    r = await client.post(
        "/v1/ownership/transfers",
        json={"from_user": "rep1", "to_user": "rep3", "resources": ["customers"]},
        headers=manager,
    )
    assert r.status_code == 202, r.text
    job = r.json()
    assert await run_transfers(app.state.runtime.sessions, TRANSFERS) == 1
    done = (await client.get(f"/v1/ownership/transfers/{job['id']}", headers=manager)).json()
    assert (done["status"], done["counts"]) == ("succeeded", {"customers": 2})
    owners = [(await client.get(f"/v1/customers/{c['id']}", headers=manager)).json()["owner_id"] for c in made]
    assert owners == ["rep3", "rep3", "rep2"]
    updated = [e["data"] for e in await events(app, "customer.updated")]
    assert sorted(d["customer_id"] for d in updated) == sorted(c["id"] for c in made[:2])
    assert {(d["owner_id"], tuple(d["changed_fields"]), d["version"]) for d in updated} == {("rep3", ("owner_id",), 2)}
    (announced,) = await events(app, "ownership.customers_transferred")
    assert announced["data"]["counts"] == {"customers": 2} and announced["data"]["requested_by"] == "manager"
    timeline = (await client.get(f"/v1/customers/{made[0]['id']}/timeline", headers=manager)).json()["items"]
    assert any("ownership transfer from rep1" in t["summary"] for t in timeline)
