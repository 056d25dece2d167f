"""/api/v1/custom-fields through the gateway (issue 24 part 2): a definition goes to the service
owning its entity (by the body's entity, the id's prefix, ?entity=), and a list without an entity
merges the owners' lists; an owner that does not serve custom fields yet (404) has none, one that
fails fails the list."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import httpx2
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

import tessera_customer.main as customer_main
import tessera_gateway.main as gateway_main
import tessera_sales.main as sales_main
from tessera_customer.settings import CustomerSettings
from tessera_gateway.main import create_app
from tessera_gateway.proxy.custom_fields import owner_of_body, owner_of_entity
from tessera_gateway.proxy.routes import owner_of
from tessera_gateway.settings import GatewaySettings
from tessera_sales.testing import sales_settings
from tessera_shared.testing.customers import StubCustomers
from tessera_shared.testing.plugin import migrations_of, running


def test_routes_of_custom_fields() -> None:
    assert owner_of_body(b'{"entity": "deal", "key": "x"}') == "sales"
    assert owner_of_body(b'{"entity": "lead"}') == "sales"
    assert owner_of_body(b'{"entity": "contact"}') == "customer"
    assert owner_of_body(b'{"entity": "customer"}') == "customer"
    assert owner_of_body(b'{"entity": "ticket"}') == "service-desk"
    # Unknown or missing: sales answers the 422 naming entity.
    assert owner_of_body(b'{"entity": "widget"}') == owner_of_body(b"[1]") == owner_of_body(b"no") == "sales"
    assert owner_of_entity("ticket") == "service-desk" and owner_of_entity(None) is None
    assert owner_of("custom-fields/deal.industry") == "sales"
    assert owner_of("custom-fields/contact.birthday") == "customer"
    assert owner_of("custom-fields/ticket.product") == "service-desk"
    assert owner_of("custom-fields/widget.x") is None and owner_of("custom-fields") is None


class Desk:
    """The service desk as far as custom fields go: none served (404), or failing (500)."""

    def __init__(self) -> None:
        self.status = 404
        self.app = Starlette(routes=[Route("/v1/{path:path}", self.answer, methods=["GET", "POST", "PATCH"])])

    async def answer(self, request: Request) -> JSONResponse:
        return JSONResponse({"title": "no"}, status_code=self.status)


@pytest.fixture
async def desk() -> Desk:
    return Desk()


@pytest.fixture
async def gateway(databases, backend, desk: Desk) -> AsyncIterator[httpx.AsyncClient]:
    customer_db = await databases.new("customer", backend, migrations_of(customer_main.__file__))
    customer = customer_main.create_app(CustomerSettings(database_url=customer_db, kafka_enabled=False, log_json=False))
    sales_db = await databases.new("sales", backend, migrations_of(sales_main.__file__))
    sales = sales_main.create_app(sales_settings(sales_db))
    sales.state.customer_directory = StubCustomers()
    gateway_db = await databases.new("gateway", backend, migrations_of(gateway_main.__file__))
    app = create_app(
        GatewaySettings(
            database_url=gateway_db,
            log_json=False,
            customer_url="http://customer.test",
            sales_url="http://sales.test",
            service_desk_url="http://desk.test",
            billing_url="http://127.0.0.1:1",
        ),
        mounts={
            "http://customer.test": httpx2.ASGITransport(app=customer),
            "http://sales.test": httpx2.ASGITransport(app=sales),
            "http://desk.test": httpx2.ASGITransport(app=desk.app),
        },
    )
    async with customer.router.lifespan_context(customer), sales.router.lifespan_context(sales), running(app) as client:
        yield client


async def token(client: httpx.AsyncClient, user: str) -> dict[str, str]:
    r = await client.post("/auth/token", data={"grant_type": "password", "username": user, "password": "local"})
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


@pytest.mark.sqlite
async def test_a_deal_field_is_defined_read_and_listed_through_the_gateway(
    gateway: httpx.AsyncClient, desk: Desk
) -> None:
    admin, rep = await token(gateway, "admin"), await token(gateway, "rep1")
    body = {
        "entity": "deal",
        "key": "industry",
        "label": "Industry",
        "type": "enum",
        "options": [{"value": "retail", "label": "Retail"}, {"value": "banking", "label": "Banking"}],
    }
    r = await gateway.post("/api/v1/custom-fields", json=body, headers=admin)
    assert r.status_code == 201, r.text
    assert r.json()["id"] == "deal.industry"
    r = await gateway.get("/api/v1/custom-fields/deal.industry", headers=rep)
    assert r.status_code == 200 and r.json()["type"] == "enum"
    r = await gateway.patch("/api/v1/custom-fields/deal.industry", json={"label": "Sector"}, headers=admin)
    assert r.status_code == 200 and r.json()["label"] == "Sector"
    r = await gateway.get("/api/v1/custom-fields?entity=deal", headers=rep)
    assert r.status_code == 200 and [d["id"] for d in r.json()["items"]] == ["deal.industry"]
    # A ticket field goes to the service desk (here: one that serves none).
    r = await gateway.post("/api/v1/custom-fields", json={**body, "entity": "ticket"}, headers=admin)
    assert r.status_code == 404
    r = await gateway.post("/api/v1/custom-fields", json={**body, "entity": "widget"}, headers=admin)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "entity"

    # Without an entity: every owner's list as one (the customer service's, if it serves any).
    r = await gateway.get("/api/v1/custom-fields", headers=rep)
    assert r.status_code == 200, r.text
    ids = [d["id"] for d in r.json()["items"]]
    assert "deal.industry" in ids and all(i.split(".")[0] in {"customer", "contact", "deal", "lead"} for i in ids)
    # A parameter the list does not take is the client's 422 naming it, not an upstream failure.
    r = await gateway.get("/api/v1/custom-fields?colour=red", headers=rep)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "colour", r.text
    assert r.json()["instance"].startswith("/api/v1/custom-fields"), r.json()

    # The deal takes the value, is refused one outside the options (named), and is found by it.
    r = await gateway.post(
        "/api/v1/deals",
        json={
            "customer_id": "0193c4d0-0000-7000-8000-000000000001",
            "title": "Shop",
            "amount": "100.00",
            "currency": "EUR",
            "custom_fields": {"industry": "mining"},
        },
        headers=rep,
    )
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "custom_fields.industry"
    made: dict[str, str] = {}
    for n, industry in enumerate(("retail", "banking")):
        r = await gateway.post(
            "/api/v1/deals",
            json={
                "customer_id": f"0193c4d0-0000-7000-8000-00000000000{n + 2}",
                "title": industry,
                "amount": "100.00",
                "currency": "EUR",
                "custom_fields": {"industry": industry},
            },
            headers=rep,
        )
        assert r.status_code == 201, r.text
        made[industry] = r.json()["id"]
    r = await gateway.get("/api/v1/deals?custom_fields.industry=retail", headers=rep)
    assert r.status_code == 200, r.text
    assert [d["id"] for d in r.json()["items"]] == [made["retail"]]

    desk.status = 500
    r = await gateway.get("/api/v1/custom-fields", headers=rep)
    assert r.status_code == 502 and r.json()["service"] == "service-desk"
