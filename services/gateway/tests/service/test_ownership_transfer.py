"""POST /api/v1/ownership/transfer through the gateway: validated against the accounts, fanned out
to the owning services (each runs its share as a job on its own), one audited row, and the
status summed over the shares (PostgreSQL and SQLite)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import httpx2
import pytest

import tessera_customer.main as customer_main
import tessera_gateway.main as gateway_main
import tessera_sales.main as sales_main
from tessera_customer.settings import CustomerSettings
from tessera_gateway.main import create_app
from tessera_gateway.ownership.service import overall
from tessera_gateway.settings import GatewaySettings
from tessera_sales.testing import sales_settings
from tessera_shared.testing.customers import StubCustomers
from tessera_shared.testing.plugin import migrations_of, running

pytestmark = pytest.mark.sqlite


def test_the_status_of_a_transfer_from_its_parts() -> None:
    assert overall(["succeeded", "succeeded"]) == "succeeded"
    assert overall(["queued", "queued"]) == "queued"
    assert overall(["succeeded", "queued"]) == "running"
    assert overall(["failed", "running"]) == "running"
    assert overall(["failed", "succeeded"]) == "failed"
    assert overall(["unknown", "succeeded"]) == "running"


@pytest.fixture
async def gateway(databases, backend) -> AsyncIterator[httpx.AsyncClient]:
    # The services' ownership jobs run on their own, as in production; the desk is not reachable.
    customer_db = await databases.new("customer", backend, migrations_of(customer_main.__file__))
    customer = customer_main.create_app(CustomerSettings(database_url=customer_db, kafka_enabled=False, log_json=False))
    sales_db = await databases.new("sales", backend, migrations_of(sales_main.__file__))
    sales = sales_main.create_app(sales_settings(sales_db, jobs_enabled=True))
    sales.state.customer_directory = StubCustomers()
    gateway_db = await databases.new("gateway", backend, migrations_of(gateway_main.__file__))
    app = create_app(
        GatewaySettings(
            database_url=gateway_db,
            log_json=False,
            customer_url="http://customer.test",
            sales_url="http://sales.test",
            service_desk_url="http://127.0.0.1:1",
            billing_url="http://127.0.0.1:1",
        ),
        mounts={
            "http://customer.test": httpx2.ASGITransport(app=customer),
            "http://sales.test": httpx2.ASGITransport(app=sales),
        },
    )
    async with (
        customer.router.lifespan_context(customer),
        sales.router.lifespan_context(sales),
        running(app) as client,
    ):
        yield client


async def token(client: httpx.AsyncClient, user: str) -> dict[str, str]:
    r = await client.post("/auth/token", data={"grant_type": "password", "username": user, "password": "local"})
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


async def settled(client: httpx.AsyncClient, location: str, who: dict[str, str]) -> dict[str, Any]:
    for _ in range(200):
        status: dict[str, Any] = (await client.get(location, headers=who)).json()
        if status["status"] in ("succeeded", "failed"):
            return status
        await asyncio.sleep(0.1)
    raise AssertionError(f"the transfer did not finish: {status}")


async def test_a_transfer_through_the_gateway(gateway: httpx.AsyncClient) -> None:
    boss, rep1 = await token(gateway, "manager"), await token(gateway, "rep1")
    for name in ("Ada", "Grace"):
        r = await gateway.post("/api/v1/customers", json={"kind": "person", "name": name}, headers=rep1)
        assert r.status_code == 201, r.text
    r = await gateway.post("/api/v1/leads", json={"name": "Lead", "source": "web_form"}, headers=rep1)
    assert r.status_code == 201, r.text
    lead = r.json()

    # Refusals: a rep; unknown accounts and the same user, named.
    body = {"from_user": "rep1", "to_user": "rep2", "resources": ["customers", "leads"]}
    assert (await gateway.post("/api/v1/ownership/transfer", json=body, headers=rep1)).status_code == 403
    r = await gateway.post("/api/v1/ownership/transfer", json={**body, "to_user": "nobody"}, headers=boss)
    assert r.status_code == 422 and [e["field"] for e in r.json()["errors"]] == ["to_user"]
    r = await gateway.post("/api/v1/ownership/transfer", json={**body, "to_user": "rep1"}, headers=boss)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "to_user"
    r = await gateway.post("/api/v1/ownership/transfer", json={**body, "to_user": "partner"}, headers=boss)
    assert r.status_code == 422  # a client account owns nothing

    keyed = {**boss, "Idempotency-Key": "leaving-rep1"}
    r = await gateway.post("/api/v1/ownership/transfer", json=body, headers=keyed)
    assert r.status_code == 202, r.text
    assert r.headers["location"] == f"/api/v1/ownership/transfers/{r.json()['id']}"
    assert {p["service"] for p in r.json()["parts"]} == {"customer", "sales"}
    # A retry with the key: the first answer again, no second job; the key with another body: 422.
    again = await gateway.post("/api/v1/ownership/transfer", json=body, headers=keyed)
    assert (again.status_code, again.headers["idempotent-replayed"]) == (202, "true")
    assert (again.json(), again.headers["location"]) == (r.json(), r.headers["location"])
    other = await gateway.post("/api/v1/ownership/transfer", json={**body, "only_open": False}, headers=keyed)
    assert (other.status_code, other.json()["type"]) == (422, "urn:tessera:problem:idempotency-key-reused")
    assert [e["field"] for e in other.json()["errors"]] == ["Idempotency-Key"]
    assert len((await gateway.get("/api/v1/ownership/transfers", headers=boss)).json()) == 1
    done = await settled(gateway, r.headers["location"], boss)
    assert (done["status"], done["counts"]) == ("succeeded", {"customers": 2, "leads": 1})
    assert done["finished_at"] is not None and done["requested_by"] == "manager"
    customers = (await gateway.get("/api/v1/customers", headers=boss)).json()["items"]
    assert {c["owner_id"] for c in customers} == {"rep2"}
    assert (await gateway.get(f"/api/v1/leads/{lead['id']}", headers=boss)).json()["owner_id"] == "rep2"
    listed = (await gateway.get("/api/v1/ownership/transfers?from_user=rep1", headers=boss)).json()
    assert [t["id"] for t in listed] == [done["id"]]
    # The request is in the audit log (written behind the request).
    admin = await token(gateway, "admin")
    for _ in range(50):
        audit = await gateway.get("/api/v1/audit-log", params={"subject": "manager"}, headers=admin)
        if any(e["path"] == "/api/v1/ownership/transfer" for e in audit.json()["items"]):
            break
        await asyncio.sleep(0.1)
    else:
        raise AssertionError(f"the transfer was not audited: {audit.json()}")

    # A share whose service cannot be reached: the other share runs, the transfer ends failed.
    r = await gateway.post(
        "/api/v1/ownership/transfer",
        json={"from_user": "rep2", "to_user": "rep1", "resources": ["leads", "tickets"]},
        headers=boss,
    )
    assert r.status_code == 202, r.text
    done = await settled(gateway, r.headers["location"], boss)
    parts = {p["service"]: p for p in done["parts"]}
    assert done["status"] == "failed" and parts["service-desk"]["error"].startswith("unreachable")
    assert parts["sales"]["status"] == "succeeded" and done["counts"] == {"leads": 1, "tickets": 0}
    # Nothing reachable at all: 503, nothing kept.
    r = await gateway.post(
        "/api/v1/ownership/transfer",
        json={"from_user": "rep2", "to_user": "rep1", "resources": ["tickets"]},
        headers=boss,
    )
    assert r.status_code == 503 and r.headers["retry-after"] == "5"
    assert len((await gateway.get("/api/v1/ownership/transfers", headers=boss)).json()) == 2
