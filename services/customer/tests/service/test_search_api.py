"""POST /v1/customers/search (issue 23, item 2) and ?fields= on customer reads (item 3)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tessera_shared.testing.builders import customer_payload
from tessera_shared.testing.plugin import bearer


def flt(prop: str, op: str, value: Any = None) -> dict[str, Any]:
    return {"property": prop, "operator": op, "value": value}


async def create(app: FastAPI, client: httpx.AsyncClient, **overrides: Any) -> dict[str, Any]:
    r = await client.post(
        "/v1/customers", json=customer_payload(**overrides), headers=bearer(app, "manager", "sales_manager")
    )
    assert r.status_code == 201, r.text
    return r.json()


async def ids(app: FastAPI, client: httpx.AsyncClient, body: dict[str, Any], *roles: str) -> list[str]:
    r = await client.post("/v1/customers/search", json=body, headers=bearer(app, "u", *(roles or ("sales_rep",))))
    assert r.status_code == 200, r.text
    return [c["id"] for c in r.json()["items"]]


@pytest.mark.sqlite
async def test_or_of_two_groups(app: FastAPI, client: httpx.AsyncClient) -> None:
    de_org = await create(
        app, client, kind="organization", name="Acme GmbH", segmentation={"geographic": {"country": "DE"}}
    )
    vip = await create(app, client, name="Zoe", tags=["vip"], owner_id="rep2")
    await create(app, client, kind="organization", name="Other", segmentation={"geographic": {"country": "FR"}})
    body = {
        "filter_groups": [
            {"filters": [flt("kind", "eq", "organization"), flt("country", "eq", "DE")]},
            {"filters": [flt("tags", "contains_token", "vip"), flt("owner_id", "in", ["rep2", "rep3"])]},
        ],
        "sorts": [{"property": "name"}],
    }
    assert await ids(app, client, body) == [de_org["id"], vip["id"]]
    # Billing reads customers too; a partner does not.
    assert await ids(app, client, body, "billing_clerk") == [de_org["id"], vip["id"]]
    r = await client.post("/v1/customers/search", json=body, headers=bearer(app, "p", "partner", kind="client"))
    assert r.status_code == 403


async def test_free_text_name_tokens_and_presence(app: FastAPI, client: httpx.AsyncClient) -> None:
    ada = await create(app, client, name="Ada Lovelace", email="ada@example.com")
    bob = await create(app, client, name="Bob Lovelace", email=None, phone="+49 30 1234567")
    assert await ids(app, client, {"query": "ada"}) == [ada["id"]]
    assert await ids(app, client, {"query": "ada@EXAMPLE"}) == [ada["id"]]
    by_name = {"filter_groups": [{"filters": [flt("name", "contains_token", "Bob")]}]}
    assert await ids(app, client, by_name) == [bob["id"]]
    no_email = {"filter_groups": [{"filters": [flt("email", "not_has_property")]}]}
    assert await ids(app, client, no_email) == [bob["id"]]
    email = {"filter_groups": [{"filters": [flt("email", "eq", "ADA@example.com")]}]}
    assert await ids(app, client, email) == [ada["id"]]
    monetary = {
        "filter_groups": [{"filters": [flt("monetary", "between", ["0", "0.00"]), flt("status", "eq", "prospect")]}]
    }
    assert set(await ids(app, client, monetary)) == {ada["id"], bob["id"]}


async def test_merged_customers_are_left_out_as_in_the_list(app: FastAPI, client: httpx.AsyncClient) -> None:
    from sqlalchemy import update

    from tessera_customer.customers.models import Customer
    from tessera_shared.db import unit_of_work

    keep = await create(app, client, name="Keep Me")
    gone = await create(app, client, name="Keep Merged")
    async with unit_of_work(app.state.runtime.sessions) as session:
        await session.execute(update(Customer).where(Customer.id == gone["id"]).values(merged_into_id=keep["id"]))
    assert await ids(app, client, {"query": "Keep"}) == [keep["id"]]


async def test_bad_input_is_named(app: FastAPI, client: httpx.AsyncClient) -> None:
    cases = [
        ({"filter_groups": [{"filters": [flt("tags", "eq", "vip")]}]}, "filter_groups.0.filters.0.operator"),
        ({"filter_groups": [{"filters": [flt("tier", "eq", "gold")]}]}, "filter_groups.0.filters.0.value"),
        ({"filter_groups": [{"filters": [flt("email", "eq", 5)]}]}, "filter_groups.0.filters.0.value"),
        (
            {"filter_groups": [{"filters": [flt("last_purchase_at", "lt", "yesterday")]}]},
            "filter_groups.0.filters.0.value",
        ),
        ({"query": ""}, "query"),
        ({"limit": 201}, "limit"),
        # Amounts are decimal strings (docs/api.md): a JSON number, an exponent, too many decimals.
        ({"filter_groups": [{"filters": [flt("monetary", "gt", 5)]}]}, "filter_groups.0.filters.0.value"),
        ({"filter_groups": [{"filters": [flt("monetary", "gt", 1.5)]}]}, "filter_groups.0.filters.0.value"),
        ({"filter_groups": [{"filters": [flt("monetary", "gt", "1e3")]}]}, "filter_groups.0.filters.0.value"),
        ({"filter_groups": [{"filters": [flt("monetary", "in", ["1", 2])]}]}, "filter_groups.0.filters.0.value.1"),
        ({"filter_groups": [{"filters": [flt("monetary", "lt", "0.00001")]}]}, "filter_groups.0.filters.0.value"),
    ]
    for body, field in cases:
        r = await client.post("/v1/customers/search", json=body, headers=bearer(app, "u", "sales_rep"))
        assert r.status_code == 422, (body, r.text)
        assert r.json()["errors"][0]["field"] == field, (body, r.json())


@pytest.mark.sqlite
async def test_fields_on_a_read_and_the_list(app: FastAPI, client: httpx.AsyncClient) -> None:
    ada = await create(app, client, name="Ada Fields")
    headers = bearer(app, "u", "sales_rep")
    r = await client.get(f"/v1/customers/{ada['id']}", params={"fields": "name,status"}, headers=headers)
    assert r.status_code == 200
    assert r.json() == {"id": ada["id"], "name": "Ada Fields", "status": "prospect"}
    assert int(r.headers["content-length"]) == len(r.content)
    r = await client.get(
        "/v1/customers", params=[("fields", "name"), ("fields", "kind"), ("q", "Ada Fi")], headers=headers
    )
    assert r.json() == {"items": [{"id": ada["id"], "name": "Ada Fields", "kind": "person"}], "next_cursor": None}
    r = await client.get("/v1/customers", params={"fields": "name,secret"}, headers=headers)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "fields"
    # Not on writes, and a 404 stays a problem.
    missing = "01a243f0-72ad-775e-a343-a60f703f2053"
    r = await client.get(f"/v1/customers/{missing}", params={"fields": "name"}, headers=headers)
    assert r.status_code == 404 and r.json()["status"] == 404
    r = await client.post("/v1/customers/search", params={"fields": "name"}, json={}, headers=headers)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "fields"
    doc = app.openapi()
    fields = [p for p in doc["paths"]["/v1/customers/{customer_id}"]["get"]["parameters"] if p["name"] == "fields"]
    assert fields and "name" in fields[0]["description"]
    assert "fields" not in [
        p["name"] for p in doc["paths"]["/v1/customers/{customer_id}"]["patch"].get("parameters", [])
    ]
