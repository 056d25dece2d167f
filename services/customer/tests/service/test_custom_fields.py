"""Custom fields of customers and contacts (issue 24 part 2) in the customer service: definitions at
/v1/custom-fields (admins), typed values on writes (422 naming custom_fields.<key>), the list
filter and the search, the events, erasure of personal ones, and custom_attributes deprecated
into them."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from services.customer.tests.helpers import create, events
from tessera_shared.testing.plugin import bearer

pytestmark = pytest.mark.sqlite
ADMIN = ("a", "admin")
MANAGER = ("m", "sales_manager")


async def define(client: httpx.AsyncClient, app: FastAPI, **body: Any) -> dict[str, Any]:
    r = await client.post("/v1/custom-fields", json=body, headers=bearer(app, *ADMIN))
    assert r.status_code == 201, r.text
    return r.json()


async def listed(client: httpx.AsyncClient, app: FastAPI, **params: str) -> set[str]:
    r = await client.get("/v1/customers", params=params, headers=bearer(app, *MANAGER))
    assert r.status_code == 200, r.text
    return {c["id"] for c in r.json()["items"]}


async def test_typed_values_filter_search_and_events(app: FastAPI, client: httpx.AsyncClient) -> None:
    await define(
        client,
        app,
        entity="customer",
        key="industry",
        label="Industry",
        type="enum",
        options=[{"value": "retail", "label": "Retail"}, {"value": "energy", "label": "Energy"}],
    )
    await define(client, app, entity="customer", key="employees", label="Employees", type="number")
    r = await client.post(
        "/v1/custom-fields",
        json={"entity": "customer", "key": "x", "label": "X", "type": "text"},
        headers=bearer(app, *MANAGER),
    )
    assert r.status_code == 403
    r = await client.get("/v1/custom-fields", params={"entity": "customer"}, headers=bearer(app, *MANAGER))
    assert {d["id"] for d in r.json()["items"]} == {"customer.industry", "customer.employees"}

    a = await create(client, app, custom_fields={"industry": "retail", "employees": 120})
    b = await create(client, app, custom_fields={"industry": "energy", "employees": 9})
    assert a["custom_fields"] == {"industry": "retail", "employees": 120}
    r = await client.post(
        "/v1/customers",
        json={"kind": "person", "name": "Bad", "custom_fields": {"industry": "mining"}},
        headers=bearer(app, *ADMIN),
    )
    assert (r.status_code, r.json()["errors"][0]["field"]) == (422, "custom_fields.industry")
    created = [e["data"]["custom_fields"] for e in await events(app, "customer.created")]
    assert created == [{"industry": "retail", "employees": 120}, {"industry": "energy", "employees": 9}]

    assert await listed(client, app, **{"custom_fields.industry": "retail"}) == {a["id"]}
    assert await listed(client, app, **{"custom_fields.employees[gt]": "50"}) == {a["id"]}
    body = {
        "filter_groups": [{"filters": [{"property": "custom_fields.industry", "operator": "eq", "value": "energy"}]}]
    }
    r = await client.post("/v1/customers/search", json=body, headers=bearer(app, *MANAGER))
    assert r.status_code == 200, r.text
    assert [c["id"] for c in r.json()["items"]] == [b["id"]]
    # Sorted by a custom field: numbers as numbers (9 before 120), a customer without one last.
    c = await create(client, app, custom_fields={"industry": "retail"})
    for direction, expected in (("asc", [b["id"], a["id"], c["id"]]), ("desc", [a["id"], b["id"], c["id"]])):
        sort: dict[str, Any] = {"sorts": [{"property": "custom_fields.employees", "direction": direction}], "limit": 2}
        r = await client.post("/v1/customers/search", json=sort, headers=bearer(app, *MANAGER))
        assert r.status_code == 200, r.text
        page = [x["id"] for x in r.json()["items"]]
        r = await client.post(
            "/v1/customers/search", json={**sort, "after": r.json()["next_cursor"]}, headers=bearer(app, *MANAGER)
        )
        assert page + [x["id"] for x in r.json()["items"]] == expected, direction

    etag = (await client.get(f"/v1/customers/{b['id']}", headers=bearer(app, *ADMIN))).headers["etag"]
    r = await client.patch(
        f"/v1/customers/{b['id']}",
        json={"custom_fields": {"employees": 10}},
        headers={**bearer(app, *ADMIN), "If-Match": etag},
    )
    assert r.status_code == 200, r.text
    assert r.json()["custom_fields"] == {"industry": "energy", "employees": 10}
    updated = [e["data"] for e in await events(app, "customer.updated")][-1]
    assert (updated["changed_fields"], updated["custom_fields"]) == (
        ["custom_fields"],
        {"industry": "energy", "employees": 10},
    )


async def test_contacts_take_their_own_fields(app: FastAPI, client: httpx.AsyncClient) -> None:
    await define(client, app, entity="contact", key="linkedin", label="LinkedIn", type="text", personal=True)
    org = await create(client, app, kind="organization", name="Acme")
    r = await client.post(
        f"/v1/customers/{org['id']}/contacts",
        json={"name": "Ada", "custom_fields": {"linkedin": "ada"}},
        headers=bearer(app, *ADMIN),
    )
    assert r.status_code == 201, r.text
    assert r.json()["custom_fields"] == {"linkedin": "ada"}
    r = await client.post(
        f"/v1/customers/{org['id']}/contacts",
        json={"name": "Bob", "custom_fields": {"industry": "x"}},
        headers=bearer(app, *ADMIN),
    )
    assert (r.status_code, r.json()["errors"][0]["field"]) == (422, "custom_fields.industry")
    [created] = [e["data"] for e in await events(app, "contact.created")]
    assert created["custom_fields"] == {"linkedin": "ada"}
    await client.post(f"/v1/customers/{org['id']}/contacts", json={"name": "Cy"}, headers=bearer(app, *ADMIN))
    r = await client.get(
        f"/v1/customers/{org['id']}/contacts", params={"custom_fields.linkedin": "ada"}, headers=bearer(app, *ADMIN)
    )
    assert (r.status_code, [c["name"] for c in r.json()["items"]]) == (200, ["Ada"])


async def test_custom_attributes_are_deprecated_into_custom_fields(app: FastAPI, client: httpx.AsyncClient) -> None:
    await define(client, app, entity="customer", key="vat_id", label="VAT id", type="text")
    r = await client.post(
        "/v1/customers",
        json={"kind": "organization", "name": "Acme", "custom_attributes": {"vat_id": "DE1", "legacy": "x"}},
        headers=bearer(app, *ADMIN),
    )
    assert r.status_code == 201, r.text
    assert (r.json()["custom_fields"], r.json()["custom_attributes"]) == ({"vat_id": "DE1"}, {"legacy": "x"})
    assert r.headers["deprecation"].startswith("@") and "sunset" in r.headers
    plain = await create(client, app)
    assert "deprecation" not in (await client.get(f"/v1/customers/{plain['id']}", headers=bearer(app, *ADMIN))).headers


async def test_erasure_clears_personal_fields_only(app: FastAPI, client: httpx.AsyncClient) -> None:
    await define(client, app, entity="customer", key="nickname", label="Nickname", type="text", personal=True)
    await define(client, app, entity="customer", key="segment", label="Segment", type="text")
    c = await create(client, app, custom_fields={"nickname": "Ace", "segment": "b2b"})
    r = await client.post(f"/v1/customers/{c['id']}/erase", json={"reason": "asked to"}, headers=bearer(app, *ADMIN))
    assert r.status_code == 200, r.text
    assert r.json()["custom_fields"] == {"segment": "b2b"}


async def test_the_batch_upsert_validates_custom_fields(app: FastAPI, client: httpx.AsyncClient) -> None:
    await define(client, app, entity="customer", key="tier_code", label="Tier code", type="number")
    body = {
        "id_property": "external_id",
        "inputs": [
            {"external_id": "cf-1", "kind": "person", "name": "A", "custom_fields": {"tier_code": 3}},
            {"external_id": "cf-2", "kind": "person", "name": "B", "custom_fields": {"tier_code": "three"}},
        ],
    }
    r = await client.post("/v1/customers/batch/upsert", json=body, headers=bearer(app, *ADMIN))
    assert r.status_code == 207, r.text
    ok, bad = r.json()["results"]
    assert (ok["status"], bad["status"]) == ("created", "error")
    assert bad["problem"]["errors"][0]["field"] == "inputs[1].custom_fields.tier_code"
    created = await client.get(f"/v1/customers/{ok['id']}", headers=bearer(app, *ADMIN))
    assert created.json()["custom_fields"] == {"tier_code": 3}
    [event] = [e["data"] for e in await events(app, "customer.created")]
    assert event["custom_fields"] == {"tier_code": 3}


async def test_a_definition_is_read_and_relabelled(app: FastAPI, client: httpx.AsyncClient) -> None:
    await define(client, app, entity="contact", key="role_note", label="Role note", type="text")
    r = await client.get("/v1/custom-fields/contact.role_note", headers=bearer(app, *MANAGER))
    assert (r.status_code, r.json()["label"]) == (200, "Role note")
    r = await client.patch(
        "/v1/custom-fields/contact.role_note",
        json={"label": "Role"},
        headers={**bearer(app, *ADMIN), "If-Match": r.headers["etag"]},
    )
    assert (r.status_code, r.json()["label"], r.json()["version"]) == (200, "Role", 2)
    assert [e["data"]["label"] for e in await events(app, "custom_field.updated")] == ["Role"]
