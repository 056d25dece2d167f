"""POST /v1/{deals,leads,activities}/batch/upsert|read (issue 23, item 1): a mixed batch answered per
input, 200 vs 207, the events of the single writes once per change, Idempotency-Key, the owner
rules (a rep cannot change another's deal through a batch), and a batch read that hides what the
caller may not see."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import event

from tessera_sales.testing import Api

pytestmark = pytest.mark.sqlite


def by_index(answer: dict[str, Any]) -> dict[int, dict[str, Any]]:
    return {r["index"]: r for r in answer["results"]}


async def test_deals_mixed_batch(api: Api) -> None:
    customer = str(uuid.uuid4())
    await api.credit_known(uuid.UUID(customer))
    seed = {
        "id_property": "external_id",
        "inputs": [
            {"external_id": "d-1", "customer_id": customer, "title": "Licences", "amount": "100.00", "currency": "EUR"},
            {"external_id": "d-2", "customer_id": customer, "title": "Support", "amount": "50.00", "currency": "EUR"},
        ],
    }
    r = await api.client.post("/v1/deals/batch/upsert", json=seed, headers=api.rep1)
    assert r.status_code == 200, r.text
    first = by_index(r.json())
    assert [first[0]["status"], first[1]["status"]] == ["created", "created"]
    assert len(await api.events("deal.created")) == 2

    batch = {
        "id_property": "external_id",
        "inputs": [
            {"external_id": "d-1", "title": "Licences 2027", "stage": "qualification"},  # changed
            {"external_id": "d-2", "customer_id": customer, "title": "Support", "currency": "EUR"},  # unchanged
            {"external_id": "d-3", "customer_id": customer, "title": "X", "amount": 5, "currency": "EUR"},  # invalid
            {"external_id": "d-4", "customer_id": customer, "title": "New", "amount": "10.00", "currency": "EUR"},
            {"external_id": "d-2", "currency": "USD"},  # the same key twice
            {"external_id": "d-5", "customer_id": customer, "title": "Other's", "amount": "1.00", "currency": "EUR",
             "owner_id": "rep2"},  # only managers assign
        ],
    }  # fmt: skip
    r = await api.client.post("/v1/deals/batch/upsert", json=batch, headers=api.rep1)
    assert r.status_code == 207, r.text
    res = by_index(r.json())
    assert [res[i]["status"] for i in range(6)] == ["updated", "unchanged", "error", "created", "error", "error"]
    assert (res[0]["id"], res[1]["id"]) == (first[0]["id"], first[1]["id"])
    assert res[2]["problem"]["errors"][0]["field"] == "inputs[2].amount"
    assert res[5]["problem"]["status"] == 403
    # One event per change, as the single writes: d-1's update and stage move, d-4's creation.
    assert [e["data"]["deal_id"] for e in await api.events("deal.created")][2:] == [res[3]["id"]]
    assert [e["data"]["deal_id"] for e in await api.events("deal.updated")] == [first[0]["id"]]
    assert [e["data"]["deal_id"] for e in await api.events("deal.stage_changed")] == [first[0]["id"]]
    unchanged = (await api.client.get(f"/v1/deals/{first[1]['id']}", headers=api.rep1)).json()
    assert unchanged["version"] == 1  # not even a version bump

    # A rep cannot change another's deal through a batch: not found, as for a single PATCH.
    r = await api.client.post(
        "/v1/deals/batch/upsert",
        json={"id_property": "id", "inputs": [{"id": first[0]["id"], "title": "Mine now"}]},
        headers=api.rep2,
    )
    assert r.status_code == 207
    assert by_index(r.json())[0]["problem"]["status"] == 404
    assert (await api.client.get(f"/v1/deals/{first[0]['id']}", headers=api.rep1)).json()["title"] == "Licences 2027"

    # Deals have no email.
    r = await api.client.post("/v1/deals/batch/upsert", json={"id_property": "email", "inputs": [{}]}, headers=api.rep1)
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "id_property"


async def test_deal_lines_decide_updated_or_unchanged(api: Api) -> None:
    """A deal's lines are read once for the batch: the same lines again are unchanged (no version
    bump), other lines are an update, and an input without lines leaves them alone."""
    customer = str(uuid.uuid4())
    await api.credit_known(uuid.UUID(customer))
    lines = [{"description": "Seat", "quantity": "2", "unit_price": "10.00"}]
    deal = {"external_id": "l-1", "customer_id": customer, "title": "Seats", "currency": "EUR", "line_items": lines}
    other = {"external_id": "l-2", "customer_id": customer, "title": "Other", "currency": "EUR", "line_items": lines}

    async def upsert(*inputs: dict[str, Any]) -> list[str]:
        body = {"id_property": "external_id", "inputs": list(inputs)}
        r = await api.client.post("/v1/deals/batch/upsert", json=body, headers=api.rep1)
        assert r.status_code == 200, r.text
        return [item["status"] for item in r.json()["results"]]

    assert await upsert(deal, other) == ["created", "created"]
    assert await upsert(deal, {"external_id": "l-2", "title": "Other"}) == ["unchanged", "unchanged"]
    more = [{**lines[0], "description": "Seat licence"}]  # the lines move, the amount does not
    assert await upsert({**deal, "line_items": more}, {"external_id": "l-2", "title": "Renamed"}) == [
        "updated",
        "updated",
    ]
    got = (await api.client.get("/v1/deals", params={"limit": 10}, headers=api.rep1)).json()["items"]
    by_title = {d["title"]: d for d in got}
    assert (by_title["Seats"]["version"], by_title["Seats"]["amount"]) == (2, "20.00")
    seats = (await api.client.get(f"/v1/deals/{by_title['Seats']['id']}", headers=api.rep1)).json()
    assert [line["description"] for line in seats["line_items"]] == ["Seat licence"]
    assert (by_title["Renamed"]["version"], by_title["Renamed"]["amount"]) == (2, "20.00")


async def test_idempotent_replay(api: Api) -> None:
    h = {**api.rep1, "Idempotency-Key": "leads-1"}
    body = {"id_property": "email", "inputs": [{"email": "grace@example.com", "name": "Grace", "source": "referral"}]}
    first = await api.client.post("/v1/leads/batch/upsert", json=body, headers=h)
    second = await api.client.post("/v1/leads/batch/upsert", json=body, headers=h)
    assert first.status_code == second.status_code == 200, first.text
    assert second.json() == first.json()
    assert second.headers["idempotent-replayed"] == "true"
    assert len(await api.events("lead.created")) == 1


async def test_leads_by_email_and_activities(api: Api) -> None:
    r = await api.client.post(
        "/v1/leads/batch/upsert",
        json={
            "id_property": "email",
            "inputs": [
                {"email": "ada@example.com", "name": "Ada", "source": "web_form"},
                {"email": "bad", "name": "Bad", "source": "web_form"},
            ],
        },
        headers=api.rep1,
    )
    assert r.status_code == 207, r.text
    res = by_index(r.json())
    assert res[0]["status"] == "created"
    assert res[1]["problem"]["errors"][0]["field"] == "inputs[1].email"
    again = await api.client.post(
        "/v1/leads/batch/upsert",
        json={"id_property": "email", "inputs": [{"email": "ADA@example.com", "company": "Analytical"}]},
        headers=api.rep1,
    )
    assert by_index(again.json())[0] == {"index": 0, "status": "updated", "id": res[0]["id"], "problem": None}
    assert len(await api.events("lead.updated")) == 1

    customer = str(uuid.uuid4())
    body = {"kind": "call", "subject": "Intro", "customer_id": customer}
    r = await api.client.post(
        "/v1/activities/batch/upsert",
        json={"id_property": "external_id", "inputs": [{"external_id": "a-1", **body}]},
        headers=api.rep1,
    )
    assert r.status_code == 200, r.text
    activity = by_index(r.json())[0]
    r = await api.client.post(
        "/v1/activities/batch/upsert",
        json={
            "id_property": "external_id",
            "inputs": [{"external_id": "a-1", **body, "notes": "went well"}, {"external_id": "a-1", "kind": "visit"}],
        },
        headers=api.rep1,
    )
    res = by_index(r.json())
    assert (res[0]["status"], res[0]["id"]) == ("updated", activity["id"])
    assert res[1]["status"] == "error"
    r = await api.client.post(
        "/v1/activities/batch/upsert",
        json={"id_property": "external_id", "inputs": [{"external_id": "a-1", "kind": "visit"}]},
        headers=api.rep1,
    )
    assert by_index(r.json())[0]["problem"]["errors"][0]["field"] == "inputs[0].kind"
    assert [e["type"] for e in await api.events() if e["type"].startswith("activity.")] == [
        "activity.logged",
        "activity.updated",
    ]


@pytest.mark.parametrize("resource", ["deals", "leads", "activities"])
async def test_an_id_beside_the_external_id_is_checked_not_dropped(api: Api, resource: str) -> None:
    """An input may repeat the id of the record its external_id finds; naming another record, or
    giving an id to a record the batch creates, fails the input (422 naming id)."""
    customer = str(uuid.uuid4())
    await api.credit_known(uuid.UUID(customer))
    fields = {
        "deals": {"customer_id": customer, "title": "T", "amount": "10.00", "currency": "EUR"},
        "leads": {"name": "Lead", "source": "web_form"},
        "activities": {"kind": "call", "subject": "Intro", "customer_id": customer},
    }[resource]
    url = f"/v1/{resource}/batch/upsert"
    seed = {
        "id_property": "external_id",
        "inputs": [{"external_id": "x-1", **fields}, {"external_id": "x-2", **fields}],
    }
    made = by_index((await api.client.post(url, json=seed, headers=api.rep1)).json())
    one = made[0]["id"]
    batch = {
        "id_property": "external_id",
        "inputs": [
            {"external_id": "x-1", "id": one, **fields},  # read and written back
            {"external_id": "x-2", "id": one, **fields},  # names another record
            {"external_id": "x-3", "id": str(uuid.uuid4()), **fields},  # a new record's id is not the caller's
        ],
    }
    r = await api.client.post(url, json=batch, headers=api.rep1)
    assert r.status_code == 207, r.text
    res = by_index(r.json())
    assert (res[0]["status"], res[0]["id"]) == ("unchanged", one)
    for index in (1, 2):
        assert res[index]["problem"]["status"] == 422
        assert [e["field"] for e in res[index]["problem"]["errors"]] == [f"inputs[{index}].id"]


async def test_batch_read_hides_what_the_caller_may_not_see(api: Api) -> None:
    mine = await api.deal(api.rep1)
    theirs = await api.deal(api.rep2)
    missing = str(uuid.uuid4())
    body = {"ids": [theirs["id"], mine["id"], missing]}
    r = await api.client.post("/v1/deals/batch/read", json=body, headers=api.rep1)
    assert r.status_code == 200, r.text
    assert [d["id"] for d in r.json()["items"]] == [mine["id"]]
    assert r.json()["not_found"] == [theirs["id"], missing]  # hidden and missing alike
    r = await api.client.post("/v1/deals/batch/read", json=body, headers=api.manager)
    assert [d["id"] for d in r.json()["items"]] == [theirs["id"], mine["id"]]
    for path in ("/v1/leads/batch/read", "/v1/activities/batch/read"):
        r = await api.client.post(path, json={"ids": [missing]}, headers=api.rep1)
        assert (r.status_code, r.json()["not_found"]) == (200, [missing])
    # The fixed path is not taken for a deal id.
    assert (await api.client.get(f"/v1/deals/{mine['id']}", headers=api.rep1)).status_code == 200


class Statements:
    """The SQL statements the app's engine runs inside the block."""

    def __init__(self, api: Api) -> None:
        self.engine = api.app.state.runtime.engine.sync_engine
        self.n = 0

    def _count(self, *_: Any) -> None:
        self.n += 1

    def __enter__(self) -> Statements:
        event.listen(self.engine, "before_cursor_execute", self._count)
        return self

    def __exit__(self, *_: Any) -> None:
        event.remove(self.engine, "before_cursor_execute", self._count)


async def test_deals_and_leads_are_written_set_based(api: Api) -> None:
    """A batch of 60 new deals, then the same deals changed, runs a few statements whatever the
    count (one INSERT of the deals, of their stage history, tags and outbox rows; one flush of the
    changed ones), with one event per change as the single writes publish; a large new deal
    publishes deal.large_detected as a single create does."""
    customer = str(uuid.uuid4())
    await api.credit_known(uuid.UUID(customer))
    n = 60

    async def upsert(inputs: list[dict[str, Any]]) -> tuple[list[str], int]:
        with Statements(api) as sql:
            r = await api.client.post(
                "/v1/deals/batch/upsert", json={"id_property": "external_id", "inputs": inputs}, headers=api.rep1
            )
        assert r.status_code == 200, r.text
        return [item["status"] for item in r.json()["results"]], sql.n

    new = [
        {"external_id": f"s-{i}", "customer_id": customer, "title": f"Deal {i}", "amount": "100.00",
         "currency": "EUR", "tags": ["bulk"]}
        for i in range(n)
    ]  # fmt: skip
    new[0]["amount"] = "900000.00"  # past the large-deal threshold
    statuses, statements = await upsert(new)
    assert statuses == ["created"] * n
    assert statements < 30, statements  # per input it was 11
    created = await api.events("deal.created")
    assert sorted(e["data"]["title"] for e in created) == sorted(f"Deal {i}" for i in range(n))
    assert [e["data"]["amount"] for e in await api.events("deal.large_detected")] == ["900000.00"]
    history = (await api.client.get(f"/v1/deals/{created[-1]['data']['deal_id']}/history", headers=api.rep1)).json()
    assert [h["to_stage"] for h in history["items"]] == [created[-1]["data"]["stage_key"]]
    tagged = (await api.client.get("/v1/deals", params={"tag": "bulk", "limit": 200}, headers=api.rep1)).json()
    assert len(tagged["items"]) == n

    statuses, statements = await upsert([{"external_id": f"s-{i}", "title": f"Renamed {i}"} for i in range(n)])
    assert statuses == ["updated"] * n
    assert statements < 30, statements  # per input it was 9
    updated = await api.events("deal.updated")
    assert len(updated) == n and {e["data"]["changes"]["title"] for e in updated} == {f"Renamed {i}" for i in range(n)}
    assert {e["data"]["version"] for e in updated} == {2}
    statuses, _ = await upsert([{"external_id": f"s-{i}", "title": f"Renamed {i}"} for i in range(n)])
    assert statuses == ["unchanged"] * n
    assert len(await api.events("deal.updated")) == n


async def test_a_refused_lead_leaves_no_trace_beside_a_changed_one(api: Api) -> None:
    """The set-based batch applies a PATCH in memory; one refused after some of its fields were
    applied (a currency taken away from an estimated value) is put back as it was: not written, no
    version bump, no event, while the input beside it is written."""
    seed = [
        {"email": f"{name}@example.com", "name": name.title(), "source": "referral", "estimated_value": "500.00",
         "currency": "EUR"}
        for name in ("ada", "grace")
    ]  # fmt: skip
    r = await api.client.post("/v1/leads/batch/upsert", json={"id_property": "email", "inputs": seed}, headers=api.rep1)
    assert r.status_code == 200, r.text
    ids = [item["id"] for item in r.json()["results"]]
    body = {
        "id_property": "email",
        "inputs": [
            {"email": "ada@example.com", "name": "Ada L", "company": "Engines", "currency": None},
            {"email": "grace@example.com", "name": "Grace H"},
        ],
    }
    r = await api.client.post("/v1/leads/batch/upsert", json=body, headers=api.rep1)
    assert r.status_code == 207, r.text
    res = by_index(r.json())
    assert res[0]["problem"]["errors"][0]["field"] == "inputs[0].currency"
    assert (res[1]["status"], res[1]["id"]) == ("updated", ids[1])
    ada = (await api.client.get(f"/v1/leads/{ids[0]}", headers=api.rep1)).json()
    assert (ada["name"], ada["company"], ada["version"], ada["estimated_value"]) == ("Ada", None, 1, "500.00")
    assert [e["data"]["lead_id"] for e in await api.events("lead.updated")] == [ids[1]]


async def test_a_unique_custom_field_value_is_claimed_once_per_batch(api: Api) -> None:
    """Nothing is written before the end of a set-based batch, so two inputs giving one value of a
    unique custom field are checked against each other: the second is refused as a single write
    would be once the first was stored."""
    r = await api.client.post(
        "/v1/custom-fields",
        json={"entity": "lead", "key": "vat_id", "label": "VAT id", "type": "text", "unique": True},
        headers=api.as_("admin1", "admin"),
    )
    assert r.status_code == 201, r.text
    inputs = [
        {"email": f"u{i}@example.com", "name": f"U{i}", "source": "referral", "custom_fields": {"vat_id": v}}
        for i, v in enumerate(["DE1", "DE2", "DE1"])
    ]
    r = await api.client.post(
        "/v1/leads/batch/upsert", json={"id_property": "email", "inputs": inputs}, headers=api.rep1
    )
    assert r.status_code == 207, r.text
    res = by_index(r.json())
    assert [res[i]["status"] for i in range(3)] == ["created", "created", "error"]
    assert res[2]["problem"]["errors"][0]["field"] == "inputs[2].custom_fields.vat_id"
    assert len(await api.events("lead.created")) == 2
