"""/api/v1/exports through the gateway: POST goes to the service holding the resource, the
export's id names it for the status and the file, and the file is relayed chunk by chunk."""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import AsyncIterator

import httpx
import httpx2
import pytest

import tessera_customer.main as customer_main
import tessera_gateway.main as gateway_main
import tessera_sales.main as sales_main
from tessera_customer.settings import CustomerSettings
from tessera_gateway.main import create_app
from tessera_gateway.proxy.routes import export_owner, owner_of, streamed_file
from tessera_gateway.settings import GatewaySettings
from tessera_sales.testing import sales_settings
from tessera_shared.testing.customers import StubCustomers
from tessera_shared.testing.plugin import migrations_of, running


def test_routes_of_exports() -> None:
    assert export_owner(b'{"resource": "deals"}') == "sales"
    assert export_owner(b'{"resource": "customers", "format": "csv"}') == "customer"
    assert export_owner(b'{"resource": "tickets"}') == "service-desk"
    assert export_owner(b'{"resource": "invoices"}') == "billing"
    assert export_owner(b'{"resource": "widgets"}') is None  # nobody's: the customer service says 422
    assert export_owner(b"not json") is None and export_owner(b"[1]") is None
    assert owner_of("exports") == "customer"
    assert owner_of("exports/leads.0193c4d0-0000-7000-8000-000000000000/file") == "sales"
    assert owner_of("exports/contacts.0193c4d0-0000-7000-8000-000000000000") == "customer"
    assert streamed_file("/api/v1/exports/deals.x/file") and not streamed_file("/api/v1/exports/deals.x")


@pytest.fixture
async def gateway(databases, backend) -> AsyncIterator[httpx.AsyncClient]:
    # The services' exports jobs run on their own (every 0.2 s), as in production.
    customer_db = await databases.new("customer", backend, migrations_of(customer_main.__file__))
    customer = customer_main.create_app(
        CustomerSettings(database_url=customer_db, kafka_enabled=False, log_json=False, export_job_interval_seconds=0.2)
    )
    sales_db = await databases.new("sales", backend, migrations_of(sales_main.__file__))
    sales = sales_main.create_app(sales_settings(sales_db, jobs_enabled=True, export_job_interval_seconds=0.2))
    sales.state.customer_directory = StubCustomers()
    gateway_db = await databases.new("gateway", backend, migrations_of(gateway_main.__file__))
    app = create_app(
        GatewaySettings(
            database_url=gateway_db,
            log_json=False,
            customer_url="http://customer.test",
            sales_url="http://sales.test",
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


async def finished(client: httpx.AsyncClient, location: str, who: dict[str, str]) -> dict[str, object]:
    for _ in range(150):
        status: dict[str, object] = (await client.get(location, headers=who)).json()
        if status["status"] == "succeeded":
            return status
        await asyncio.sleep(0.1)
    raise AssertionError(f"the export did not finish: {status}")


async def test_export_customers_and_deals_through_the_gateway(gateway: httpx.AsyncClient) -> None:
    boss = await token(gateway, "manager")
    for name in ("Ada", "=1+1"):
        r = await gateway.post("/api/v1/customers", json={"kind": "person", "name": name}, headers=boss)
        assert r.status_code == 201, r.text
    r = await gateway.post("/api/v1/exports", json={"resource": "customers", "fields": ["name"]}, headers=boss)
    assert r.status_code == 202, r.text
    assert r.headers["location"] == f"/api/v1/exports/{r.json()['id']}"
    status = await finished(gateway, r.headers["location"], boss)
    assert status["rows_written"] == 2
    assert status["file_url"] == f"{r.headers['location']}/file"  # the body's link is a gateway path too
    f = await gateway.get(status["file_url"], headers=boss)
    assert f.status_code == 200 and f.headers["content-type"].startswith("text/csv")
    assert sorted(csv.reader(io.StringIO(f.text))) == [["'=1+1"], ["Ada"], ["name"]]
    assert f.headers["content-length"] == str(len(f.content))  # the file's size, as the service gives it

    # Deals are the sales service's: the POST goes there by the body, the status by the id.
    r = await gateway.post("/api/v1/exports", json={"resource": "deals", "format": "ndjson"}, headers=boss)
    assert r.status_code == 202, r.text
    assert r.json()["id"].startswith("deals.")
    status = await finished(gateway, r.headers["location"], boss)
    assert status["rows_written"] == 0
    f = await gateway.get(f"{r.headers['location']}/file", headers=boss)
    assert (f.status_code, f.content) == (200, b"")
    # A resource nobody exports is refused by name.
    r = await gateway.post("/api/v1/exports", json={"resource": "widgets"}, headers=boss)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "resource"
