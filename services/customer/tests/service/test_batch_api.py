"""POST /v1/customers/batch/upsert|read and /v1/contacts/batch/upsert|read (issue 23, item 1): each
input decided on its own, the per-index answer, 200 vs 207, one event per change, Idempotency-Key,
the owner rules of the single writes."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from services.customer.tests.helpers import COMPUTED_VALUES, RICH_INPUT, create, events, set_columns
from tessera_customer.customers.models import Customer
from tessera_shared.testing.plugin import bearer

# The endpoints are new: their success runs on SQLite too (and the ON CONFLICT insert differs).
pytestmark = pytest.mark.sqlite

URL = "/v1/customers/batch/upsert"
READ_URL = "/v1/customers/batch/read"
CONTACTS_URL = "/v1/contacts/batch/upsert"


def manager(app: FastAPI) -> dict[str, str]:
    return bearer(app, "boss", "sales_manager")


def by_index(answer: dict) -> dict[int, dict]:
    return {r["index"]: r for r in answer["results"]}


async def test_a_mixed_batch_answers_per_input_and_publishes_once_per_change(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    h = manager(app)
    seed = {"id_property": "external_id", "inputs": [
        {"external_id": "x-1", "kind": "person", "name": "Ada Lovelace", "email": "ada@example.com", "tags": ["a"]},
        {"external_id": "x-2", "kind": "organization", "name": "Acme"},
    ]}  # fmt: skip
    r = await client.post(URL, json=seed, headers=h)
    assert r.status_code == 200, r.text
    first = by_index(r.json())
    assert [first[0]["status"], first[1]["status"]] == ["created", "created"]
    assert len(await events(app, "customer.created")) == 2

    batch = {"id_property": "external_id", "inputs": [
        {"external_id": "x-1", "name": "Ada King", "tags": ["a", "b"]},  # changed
        {"external_id": "x-2", "kind": "organization", "name": "Acme"},  # unchanged
        {"external_id": "x-3", "kind": "person", "name": "Grace", "email": "not-an-email"},  # invalid
        {"external_id": "x-4", "kind": "person", "name": "Grace Hopper"},  # new
        {"kind": "person", "name": "No key"},  # no external_id
        {"external_id": "x-4", "kind": "person", "name": "Again"},  # the same key twice
        {"external_id": "x-2", "kind": "person"},  # kind cannot change -- also the same key twice
    ]}  # fmt: skip
    r = await client.post(URL, json=batch, headers=h)
    assert r.status_code == 207, r.text
    answer = r.json()
    res = by_index(answer)
    assert (answer["succeeded"], answer["failed"]) == (3, 4)
    assert [res[i]["status"] for i in range(7)] == [
        "updated",
        "unchanged",
        "error",
        "created",
        "error",
        "error",
        "error",
    ]
    assert (res[0]["id"], res[1]["id"]) == (first[0]["id"], first[1]["id"])
    problem = res[2]["problem"]
    assert problem["status"] == 422 and problem["type"] == "urn:tessera:problem:validation-error"
    assert [e["field"] for e in problem["errors"]] == ["inputs[2].email"]
    assert problem["detail"] == "invalid input: inputs[2].email"
    assert res[4]["problem"]["errors"][0]["field"] == "inputs[4].external_id"
    assert "inputs[3]" in res[5]["problem"]["errors"][0]["message"]

    # One event per change: x-1's update, x-4's creation; nothing for the unchanged or failed ones.
    updated = await events(app, "customer.updated")
    assert [(e["data"]["customer_id"], e["data"]["changed_fields"]) for e in updated] == [
        (first[0]["id"], ["name", "tags"])
    ]
    created = await events(app, "customer.created")
    assert [e["data"]["customer_id"] for e in created][2:] == [res[3]["id"]]
    got = (await client.get(f"/v1/customers/{first[0]['id']}", headers=h)).json()
    assert (got["name"], got["tags"], got["version"]) == ("Ada King", ["a", "b"], 2)
    # The customer list's tag filter sees the new tag (customer_tags written too).
    listed = (await client.get("/v1/customers", params={"tag": "b"}, headers=h)).json()["items"]
    assert [c["id"] for c in listed] == [first[0]["id"]]


async def test_by_email_and_by_id(app: FastAPI, client: httpx.AsyncClient) -> None:
    h = manager(app)
    ada = await create(client, app, ("boss", "sales_manager"), email="ada@example.com", name="Ada")
    await create(client, app, ("boss", "sales_manager"), email="twin@example.com")
    await create(client, app, ("boss", "sales_manager"), email="twin@example.com")
    r = await client.post(
        URL,
        json={
            "id_property": "email",
            "inputs": [
                {"email": "ADA@example.com", "phone": "+44 1234 5678"},
                {"email": "twin@example.com", "name": "Twin"},
                {"email": "new@example.com", "kind": "person", "name": "New"},
            ],
        },
        headers=h,
    )
    assert r.status_code == 207, r.text
    res = by_index(r.json())
    assert (res[0]["status"], res[0]["id"]) == ("updated", ada["id"])
    assert res[1]["problem"]["status"] == 409
    assert res[2]["status"] == "created"

    missing = str(uuid.uuid4())
    r = await client.post(
        URL,
        json={"id_property": "id", "inputs": [{"id": ada["id"], "name": "Ada L."}, {"id": missing, "name": "X"}]},
        headers=h,
    )
    res = by_index(r.json())
    assert res[0]["status"] == "updated"
    assert res[1]["problem"]["type"] == "urn:tessera:problem:not-found"


async def test_an_id_given_beside_another_id_property_is_checked_not_dropped(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    h = manager(app)
    ada = await create(client, app, ("boss", "sales_manager"), external_id="ext-ada", name="Ada")
    other = await create(client, app, ("boss", "sales_manager"), external_id="ext-other", name="Other")
    await create(client, app, ("boss", "sales_manager"), external_id="ext-third", name="Third")
    r = await client.post(
        URL,
        json={
            "id_property": "external_id",
            "inputs": [
                {"external_id": "ext-ada", "id": ada["id"], "name": "Ada L."},  # read and written back
                {"external_id": "ext-other", "id": ada["id"], "name": "Not Other"},
                {"external_id": "ext-new", "id": str(uuid.uuid4()), "kind": "person", "name": "New"},
                {"external_id": "ext-third", "id": "not-a-uuid", "name": "X"},
            ],
        },
        headers=h,
    )
    assert r.status_code == 207, r.text
    res = by_index(r.json())
    assert (res[0]["status"], res[0]["id"]) == ("updated", ada["id"])
    for index in (1, 2, 3):
        assert res[index]["problem"]["status"] == 422
        assert [e["field"] for e in res[index]["problem"]["errors"]] == [f"inputs[{index}].id"]
    assert (await client.get(f"/v1/customers/{other['id']}", headers=h)).json()["name"] == "Other"
    async with app.state.runtime.sessions() as session:
        assert await session.scalar(select(Customer.id).where(Customer.external_id == "ext-new")) is None


async def test_changes_of_many_customers_are_written_as_single_patches_write_them(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    """The changed inputs of one batch are stored together (one flush, one INSERT of events, of
    timeline lines, of tags): each customer still gets its own version, event and timeline line."""
    h = manager(app)
    seed = [{"external_id": f"m-{n}", "kind": "person", "name": f"M {n}", "tags": ["t"]} for n in range(3)]
    r = await client.post(URL, json={"id_property": "external_id", "inputs": seed}, headers=h)
    ids = [item["id"] for item in r.json()["results"]]
    batch = {"id_property": "external_id", "inputs": [
        {"external_id": "m-0", "name": "M zero"},  # name only
        {"external_id": "m-1", "tags": ["t", "u"], "email": "m1@example.com"},  # tags and email
        {"external_id": "m-2", "name": "M 2", "tags": ["t"]},  # as stored
    ]}  # fmt: skip
    r = await client.post(URL, json=batch, headers=h)
    assert [item["status"] for item in r.json()["results"]] == ["updated", "updated", "unchanged"]
    updated = [e["data"] for e in await events(app, "customer.updated")]
    assert [(d["customer_id"], d["changed_fields"], d["version"]) for d in updated] == [
        (ids[0], ["name"], 2),
        (ids[1], ["email", "tags"], 2),
    ]
    assert (updated[0]["name"], updated[1]["email"]) == ("M zero", "m1@example.com")
    versions = [(await client.get(f"/v1/customers/{i}", headers=h)).json()["version"] for i in ids]
    assert versions == [2, 2, 1]
    for customer_id, changed in ((ids[0], ["name"]), (ids[1], ["email", "tags"])):
        lines = (await client.get(f"/v1/customers/{customer_id}/timeline", headers=h)).json()["items"]
        assert [x["data"]["changed_fields"] for x in lines if x["kind"] == "customer.updated"] == [changed]
    tagged = (await client.get("/v1/customers", params={"tag": "u"}, headers=h)).json()["items"]
    assert [c["id"] for c in tagged] == [ids[1]]
    still = (await client.get("/v1/customers", params={"tag": "t"}, headers=h)).json()["items"]
    assert sorted(c["id"] for c in still) == sorted(ids)


async def test_a_unique_custom_field_value_is_claimed_once_per_batch(app: FastAPI, client: httpx.AsyncClient) -> None:
    """Nothing is stored before the end of a batch, so inputs giving one value of a unique custom
    field are checked against each other: a later input (new, or a change of a stored customer)
    is refused as a single write would be once the earlier one was stored, and left as it was."""
    body = {"entity": "customer", "key": "vat_id", "label": "VAT id", "type": "text", "unique": True}
    r = await client.post("/v1/custom-fields", json=body, headers=bearer(app, "root", "admin"))
    assert r.status_code == 201, r.text
    h = manager(app)
    r = await client.post(
        URL,
        json={"id_property": "external_id", "inputs": [{"external_id": "v-0", "kind": "person", "name": "Old"}]},
        headers=h,
    )
    assert r.status_code == 200, r.text
    old_id = r.json()["results"][0]["id"]
    batch = {"id_property": "external_id", "inputs": [
        {"external_id": "v-1", "kind": "person", "name": "One", "custom_fields": {"vat_id": "DE1"}},
        {"external_id": "v-2", "kind": "person", "name": "Two", "custom_fields": {"vat_id": "DE1"}},
        {"external_id": "v-0", "name": "Old renamed", "custom_fields": {"vat_id": "DE1"}},
        {"external_id": "v-3", "kind": "person", "name": "Three", "custom_fields": {"vat_id": "DE3"}},
    ]}  # fmt: skip
    r = await client.post(URL, json=batch, headers=h)
    assert r.status_code == 207, r.text
    res = by_index(r.json())
    assert [res[i]["status"] for i in range(4)] == ["created", "error", "error", "created"]
    assert {res[i]["problem"]["errors"][0]["field"] for i in (1, 2)} == {
        "inputs[1].custom_fields.vat_id",
        "inputs[2].custom_fields.vat_id",
    }
    old = (await client.get(f"/v1/customers/{old_id}", headers=h)).json()
    assert (old["name"], old["custom_fields"], old["version"]) == ("Old", {}, 1)
    assert len(await events(app, "customer.updated")) == 0  # the refused change left no trace
    assert len(await events(app, "customer.created")) == 3


async def test_idempotency_key_replays_the_first_answer(app: FastAPI, client: httpx.AsyncClient) -> None:
    h = {**manager(app), "Idempotency-Key": "batch-1"}
    once = {"external_id": "i-1", "kind": "person", "name": "Once"}
    body: dict[str, Any] = {"id_property": "external_id", "inputs": [once]}
    first = await client.post(URL, json=body, headers=h)
    second = await client.post(URL, json=body, headers=h)
    assert first.status_code == second.status_code == 200
    assert second.json() == first.json()
    assert second.headers["idempotent-replayed"] == "true"
    assert len(await events(app, "customer.created")) == 1
    other = await client.post(URL, json={**body, "inputs": [{**body["inputs"][0], "name": "Twice"}]}, headers=h)
    assert other.status_code == 422
    assert other.json()["type"] == "urn:tessera:problem:idempotency-key-reused"


async def test_owner_rules_hold_per_input(app: FastAPI, client: httpx.AsyncClient) -> None:
    theirs = await create(client, app, ("rep2", "sales_rep"), external_id="o-1")
    mine = await create(client, app, ("rep1", "sales_rep"), external_id="o-2")
    rep1 = bearer(app, "rep1", "sales_rep")
    r = await client.post(
        URL,
        json={
            "id_property": "external_id",
            "inputs": [
                {"external_id": "o-1", "name": "Taken over"},  # another rep's customer
                {"external_id": "o-2", "name": "Mine, renamed"},
                {"external_id": "o-3", "kind": "person", "name": "For rep2", "owner_id": "rep2"},
                {"external_id": "o-4", "kind": "person", "name": "Mine, new"},
                {"external_id": "o-2", "owner_id": "rep2"},  # the same key twice
            ],
        },
        headers=rep1,
    )
    assert r.status_code == 207, r.text
    res = by_index(r.json())
    assert res[0]["problem"]["status"] == 403
    assert (res[1]["status"], res[1]["id"]) == ("updated", mine["id"])
    assert res[2]["problem"]["status"] == 403
    assert res[3]["status"] == "created"
    got = (await client.get(f"/v1/customers/{res[3]['id']}", headers=rep1)).json()
    assert got["owner_id"] == "rep1"  # a rep's new customer is the rep's own
    untouched = (await client.get(f"/v1/customers/{theirs['id']}", headers=rep1)).json()
    assert untouched["name"] == theirs["name"]

    partner = bearer(app, "p", "partner")
    assert (await client.post(URL, json={"id_property": "id", "inputs": [{}]}, headers=partner)).status_code == 403


async def test_the_batch_itself_is_validated(app: FastAPI, client: httpx.AsyncClient) -> None:
    h = manager(app)
    r = await client.post(URL, json={"id_property": "phone", "inputs": [{}]}, headers=h)
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "id_property"
    r = await client.post(URL, json={"id_property": "id", "inputs": []}, headers=h)
    assert r.status_code == 422
    r = await client.post(URL, json={"id_property": "id", "inputs": [{}] * 1001}, headers=h)
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "inputs"


async def test_batch_read(app: FastAPI, client: httpx.AsyncClient) -> None:
    h = manager(app)
    a = await create(client, app, ("boss", "sales_manager"))
    b = await create(client, app, ("boss", "sales_manager"))
    missing = str(uuid.uuid4())
    r = await client.post(READ_URL, json={"ids": [b["id"], missing, a["id"]]}, headers=h)
    assert r.status_code == 200, r.text
    assert [c["id"] for c in r.json()["items"]] == [b["id"], a["id"]]
    assert r.json()["not_found"] == [missing]
    assert (await client.post(READ_URL, json={"ids": [missing] * 1001}, headers=h)).status_code == 422
    # Fixed paths are not taken for a customer id.
    assert (await client.get(f"/v1/customers/{a['id']}", headers=h)).status_code == 200


async def test_batch_read_answers_what_the_single_read_answers(app: FastAPI, client: httpx.AsyncClient) -> None:
    """The batch read writes its JSON itself (no response model): each item is the single GET's
    body, member for member and in the same order, values the ORM would not give it as they are
    (decimals to the cent, times with microseconds, a channel without a label, nested attributes)."""
    h = manager(app)
    rich = await create(
        client,
        app,
        ("boss", "sales_manager"),
        **RICH_INPUT,
        external_id="ext-rich",
        custom_attributes={"score": 2.5, "n": 12345678901, "nested": {"a": [1, None, "ü", True]}},
    )
    plain = await create(client, app, ("boss", "sales_manager"), kind="organization", name="Acme")
    merged = await create(client, app, ("boss", "sales_manager"))
    await set_columns(app, rich["id"], **COMPUTED_VALUES)
    await set_columns(app, merged["id"], merged_into_id=Customer.__table__.c.id)
    ids = [plain["id"], merged["id"], rich["id"], plain["id"]]
    r = await client.post(READ_URL, json={"ids": ids}, headers=h)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/json"
    items = r.json()["items"]
    assert r.json()["not_found"] == [merged["id"]]  # a merged customer is not read; a repeated id once
    for item, expected in zip(items, [plain, rich], strict=True):
        single = await client.get(f"/v1/customers/{expected['id']}", headers=h)
        # json.dumps keeps the members' order: the same text is the same members in the same order.
        assert json.dumps(item) == json.dumps(single.json())
    assert items[1]["value"]["lifetime_values"] == {"EUR": "1234.50", "USD": "0.10"}
    assert items[1]["value"]["first_purchase_at"] == "2026-01-02T03:04:05.006000Z"
    assert items[1]["channels"][0] == {"kind": "phone", "value": "+49 30 999", "label": None}
    # An integer past 64 bits (orjson writes none) is answered all the same.
    big = await create(client, app, ("boss", "sales_manager"), custom_attributes={"big": 2**70})
    r = await client.post(READ_URL, json={"ids": [big["id"]]}, headers=h)
    assert r.status_code == 200, r.text
    single = await client.get(f"/v1/customers/{big['id']}", headers=h)
    assert json.dumps(r.json()["items"]) == json.dumps([single.json()])
    assert r.json()["items"][0]["custom_attributes"] == {"big": 2**70}


async def test_contacts_mixed_batch(app: FastAPI, client: httpx.AsyncClient) -> None:
    org = await create(client, app, ("rep1", "sales_rep"), kind="organization", name="Acme")
    person = await create(client, app, ("rep1", "sales_rep"))
    other = await create(client, app, ("rep2", "sales_rep"), kind="organization", name="Other")
    rep1 = bearer(app, "rep1", "sales_rep")
    seed = {"id_property": "external_id", "inputs": [{"external_id": "c-1", "customer_id": org["id"], "name": "Grace"}]}
    r = await client.post(CONTACTS_URL, json=seed, headers=rep1)
    assert r.status_code == 200, r.text
    grace = by_index(r.json())[0]
    assert grace["status"] == "created"
    r = await client.post(
        CONTACTS_URL,
        json={
            "id_property": "external_id",
            "inputs": [
                {"external_id": "c-1", "title": "CTO"},  # changed
                {"external_id": "c-1", "name": "Twice"},  # the same key twice
                {"external_id": "c-2", "customer_id": org["id"], "name": "Ada", "email": "x"},  # invalid
                {"external_id": "c-3", "customer_id": person["id"], "name": "On a person"},  # 409
                {"external_id": "c-4", "customer_id": other["id"], "name": "Not my customer"},  # 403
                {"external_id": "c-5", "customer_id": org["id"], "name": "Alan"},  # new
            ],
        },
        headers=rep1,
    )
    assert r.status_code == 207, r.text
    res = by_index(r.json())
    assert (res[0]["status"], res[0]["id"]) == ("updated", grace["id"])
    assert res[1]["status"] == "error"
    assert res[2]["problem"]["errors"][0]["field"] == "inputs[2].email"
    assert res[3]["problem"]["status"] == 409
    assert res[4]["problem"]["status"] == 403
    assert res[5]["status"] == "created"
    same = {"id_property": "external_id", "inputs": [{"external_id": "c-1", "title": "CTO"}]}
    again = await client.post(CONTACTS_URL, json=same, headers=rep1)
    assert by_index(again.json())[0]["status"] == "unchanged"
    kinds = [e["type"] for e in await events(app) if e["type"].startswith("contact.")]
    assert kinds == ["contact.created", "contact.updated", "contact.created"]
    read = await client.post(
        "/v1/contacts/batch/read", json={"ids": [grace["id"], res[5]["id"], str(uuid.uuid4())]}, headers=rep1
    )
    assert read.status_code == 200, read.text
    items = read.json()["items"]
    assert [(c["external_id"], c["title"]) for c in items] == [("c-1", "CTO"), ("c-5", None)]
    assert len(read.json()["not_found"]) == 1


async def test_a_required_custom_field_is_asked_of_each_new_input(app: FastAPI, client: httpx.AsyncClient) -> None:
    """New inputs without custom field values share one check of the definitions (worked out once
    per batch): each one lacking a required field is refused under its own index, the one giving
    it is created; once it is not required, they are created with no values."""
    body = {"entity": "customer", "key": "segment_code", "label": "Code", "type": "text", "required": True}
    r = await client.post("/v1/custom-fields", json=body, headers=bearer(app, "root", "admin"))
    assert r.status_code == 201, r.text
    batch = {"id_property": "external_id", "inputs": [
        {"external_id": "r-0", "kind": "person", "name": "Zero"},
        {"external_id": "r-1", "kind": "person", "name": "One", "custom_fields": {"segment_code": "A"}},
        {"external_id": "r-2", "kind": "person", "name": "Two"},
    ]}  # fmt: skip
    r = await client.post(URL, json=batch, headers=manager(app))
    assert r.status_code == 207, r.text
    res = by_index(r.json())
    assert [res[i]["status"] for i in range(3)] == ["error", "created", "error"]
    assert [res[i]["problem"]["errors"][0]["field"] for i in (0, 2)] == [
        "inputs[0].custom_fields.segment_code",
        "inputs[2].custom_fields.segment_code",
    ]
    admin = bearer(app, "root", "admin")
    listed = (await client.get("/v1/custom-fields", headers=admin)).json()["items"]
    field_id = next(d["id"] for d in listed if d["key"] == "segment_code")
    r = await client.patch(f"/v1/custom-fields/{field_id}", json={"required": False}, headers=admin)
    assert r.status_code == 200, r.text
    r = await client.post(URL, json=batch, headers=manager(app))
    assert r.status_code == 200, r.text
    res = by_index(r.json())
    assert [res[i]["status"] for i in range(3)] == ["created", "unchanged", "created"]
    created = await events(app, "customer.created")
    assert sorted(e["data"]["name"] for e in created) == ["One", "Two", "Zero"]
    assert {e["data"]["name"]: e["data"]["custom_fields"] for e in created}["Zero"] == {}
