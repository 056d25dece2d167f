"""Typed custom fields of deals and leads (issue 24 part 2): definitions, values validated per
type (a 422 naming custom_fields.<key>), lists and search filtering on them, the per-field index on
PostgreSQL, the events and the erasure that carry them."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import event, text

from tessera_sales.custom_fields import CUSTOM_FIELDS
from tessera_sales.testing import PROBLEM, Api
from tessera_shared.custom_fields import Definition, validate_values
from tessera_shared.errors import InvalidInput
from tessera_shared.events.contracts import CustomerErased
from tessera_shared.users import KnownUsers, digest

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def admin(api: Api) -> dict[str, str]:
    return api.as_("admin1", "admin")


async def define(api: Api, entity: str, key: str, type_: str, **extra: Any) -> dict[str, Any]:
    body = {"entity": entity, "key": key, "label": key.replace("_", " ").title(), "type": type_, **extra}
    r = await api.client.post("/v1/custom-fields", json=body, headers=admin(api))
    assert r.status_code == 201, r.text
    return r.json()


def options(*values: str) -> list[dict[str, str]]:
    return [{"value": v, "label": v.title()} for v in values]


def fields_named(r: Any) -> list[str]:
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith(PROBLEM)
    return [e["field"] for e in r.json()["errors"]]


@pytest.mark.sqlite
async def test_an_admin_defines_reads_and_changes_a_field_and_each_change_is_an_event(api: Api) -> None:
    created = await define(api, "deal", "industry", "enum", options=options("retail", "banking"))
    assert (created["id"], created["type"], created["version"], created["archived_at"]) == (
        "deal.industry",
        "enum",
        1,
        None,
    )
    [event] = await api.events("custom_field.created")
    assert (event["key"], event["source"], event["data"]["id"]) == ("deal.industry", "/crm/sales", "deal.industry")
    assert [o["value"] for o in event["data"]["options"]] == ["retail", "banking"]

    r = await api.client.post(
        "/v1/custom-fields",
        json={"entity": "deal", "key": "industry", "label": "Again", "type": "text"},
        headers=admin(api),
    )
    assert (r.status_code, r.json()["type"]) == (409, "urn:tessera:problem:custom-field-exists")

    r = await api.client.get("/v1/custom-fields?entity=deal", headers=api.rep1)
    assert r.status_code == 200, r.text
    assert [d["id"] for d in r.json()["items"]] == ["deal.industry"]
    r = await api.client.get("/v1/custom-fields?entity=lead", headers=api.rep1)
    assert r.status_code == 200 and r.json()["items"] == []
    r = await api.client.get("/v1/custom-fields/deal.industry", headers=api.rep1)
    assert r.status_code == 200 and r.json()["label"] == "Industry"

    r = await api.client.patch(
        "/v1/custom-fields/deal.industry",
        json={"label": "Sector", "options": [*options("retail", "banking"), {"value": "energy", "label": "Energy"}]},
        headers=admin(api),
    )
    assert r.status_code == 200, r.text
    assert (r.json()["label"], r.json()["version"], len(r.json()["options"])) == ("Sector", 2, 3)
    [updated] = await api.events("custom_field.updated")
    assert (updated["key"], updated["data"]["label"], updated["data"]["version"]) == ("deal.industry", "Sector", 2)

    # Type and key never change; an option once offered stays.
    r = await api.client.patch("/v1/custom-fields/deal.industry", json={"type": "text"}, headers=admin(api))
    assert fields_named(r) == ["type"]
    r = await api.client.patch(
        "/v1/custom-fields/deal.industry", json={"options": options("retail")}, headers=admin(api)
    )
    assert fields_named(r) == ["options"]
    # Admins only write; an enum needs options; sales keeps no ticket fields.
    r = await api.client.post(
        "/v1/custom-fields", json={"entity": "deal", "key": "x", "label": "X", "type": "text"}, headers=api.manager
    )
    assert r.status_code == 403
    r = await api.client.post(
        "/v1/custom-fields", json={"entity": "deal", "key": "tier", "label": "T", "type": "enum"}, headers=admin(api)
    )
    assert fields_named(r) == ["options"]
    r = await api.client.post(
        "/v1/custom-fields", json={"entity": "ticket", "key": "x", "label": "X", "type": "text"}, headers=admin(api)
    )
    assert fields_named(r) == ["entity"]
    r = await api.client.post(
        "/v1/custom-fields", json={"entity": "deal", "key": "Bad Key", "label": "X", "type": "text"}, headers=admin(api)
    )
    assert fields_named(r) == ["key"]
    r = await api.client.get("/v1/custom-fields/deal.nothing", headers=api.rep1)
    assert r.status_code == 404

    # Archived: the key is refused on writes, the definition stays listed.
    r = await api.client.patch("/v1/custom-fields/deal.industry", json={"archived": True}, headers=admin(api))
    assert r.status_code == 200 and r.json()["archived_at"] is not None
    r = await api.client.post(
        "/v1/deals", json={**(await deal_body(api)), "custom_fields": {"industry": "retail"}}, headers=api.rep1
    )
    assert fields_named(r) == ["custom_fields.industry"]


async def deal_body(api: Api) -> dict[str, Any]:
    customer = uuid.uuid4()
    await api.credit_known(customer)
    return {"customer_id": str(customer), "title": "Deal", "amount": "1000.00", "currency": "EUR"}


async def every_type(api: Api) -> None:
    await define(api, "deal", "note", "text")
    await define(api, "deal", "seats", "number")
    await define(api, "deal", "budget", "money")
    await define(api, "deal", "renewal", "date")
    await define(api, "deal", "signed", "boolean")
    await define(api, "deal", "industry", "enum", options=options("retail", "banking"))
    await define(api, "deal", "regions", "multi_enum", options=options("emea", "apac", "amer"))
    await define(api, "deal", "champion", "user")


GOOD = {
    "note": "Met at the fair",
    "seats": "120",
    "budget": {"amount": "12.345", "currency": "EUR"},
    "renewal": "2027-01-31",
    "signed": True,
    "industry": "retail",
    "regions": ["emea", "apac", "emea"],
    "champion": "rep2",
}
STORED = {
    **GOOD,
    "seats": 120,
    "budget": {"amount": "12.35", "currency": "EUR"},
    "regions": ["emea", "apac"],
}
BAD = {
    "note": 5,
    "seats": "many",
    "budget": {"amount": "1", "currency": "euro"},
    "renewal": "31/01/2027",
    "signed": "yes",
    "industry": "mining",
    "regions": ["emea", "mars"],
    "champion": "",
}


@pytest.mark.sqlite
async def test_values_are_validated_per_type_and_each_refusal_names_its_field(api: Api) -> None:
    await every_type(api)
    r = await api.client.post("/v1/deals", json={**(await deal_body(api)), "custom_fields": GOOD}, headers=api.rep1)
    assert r.status_code == 201, r.text
    assert r.json()["custom_fields"] == STORED
    [created] = await api.events("deal.created")
    assert created["data"]["custom_fields"] == STORED

    for key, value in BAD.items():
        r = await api.client.post(
            "/v1/deals", json={**(await deal_body(api)), "custom_fields": {key: value}}, headers=api.rep1
        )
        assert fields_named(r) == [f"custom_fields.{key}"], key
    # All at once, with an unknown key: one 422 naming each.
    r = await api.client.post(
        "/v1/deals", json={**(await deal_body(api)), "custom_fields": {**BAD, "nope": 1}}, headers=api.rep1
    )
    assert sorted(fields_named(r)) == sorted(f"custom_fields.{k}" for k in [*BAD, "nope"])


@pytest.mark.sqlite
async def test_a_user_field_takes_only_a_user_of_this_crm_once_the_gateway_listed_them(api: Api) -> None:
    await define(api, "deal", "champion", "user")
    # What the follower (tessera_shared.users) loads from the gateway's /auth/usernames.
    api.app.state.known_users.replace(digest(u) for u in ("rep1", "rep2", "manager"))

    r = await api.client.post(
        "/v1/deals", json={**(await deal_body(api)), "custom_fields": {"champion": "nobody"}}, headers=api.rep1
    )
    assert fields_named(r) == ["custom_fields.champion"]
    assert r.json()["errors"][0]["message"] == "a username of this CRM"
    r = await api.client.post(
        "/v1/deals", json={**(await deal_body(api)), "custom_fields": {"champion": " rep2 "}}, headers=api.rep1
    )
    assert r.status_code == 201, r.text
    deal = r.json()
    assert deal["custom_fields"] == {"champion": "rep2"}
    r = await api.client.patch(
        f"/v1/deals/{deal['id']}", json={"custom_fields": {"champion": "svc-sales"}}, headers=api.rep1
    )
    assert fields_named(r) == ["custom_fields.champion"]


def test_a_user_value_is_any_name_while_no_list_of_users_is_known() -> None:
    champion = {"champion": Definition(entity="deal", key="champion", label="Champion", type="user")}
    for users in (None, KnownUsers()):  # no gateway configured; the gateway not answered yet
        assert validate_values(champion, {"champion": "nobody"}, creating=True, users=users) == {"champion": "nobody"}
    with pytest.raises(InvalidInput):
        validate_values(champion, {"champion": "nobody"}, creating=True, users=KnownUsers(["rep1"]))
    assert validate_values(champion, {"champion": "rep1"}, creating=True, users=KnownUsers(["rep1"])) == {
        "champion": "rep1"
    }


@pytest.mark.sqlite
async def test_required_and_unique_fields(api: Api) -> None:
    await define(api, "deal", "po_number", "text", required=True, unique=True)
    r = await api.client.post("/v1/deals", json=await deal_body(api), headers=api.rep1)
    assert fields_named(r) == ["custom_fields.po_number"] and r.json()["errors"][0]["type"] == "missing"
    r = await api.client.post(
        "/v1/deals", json={**(await deal_body(api)), "custom_fields": {"po_number": "PO-1"}}, headers=api.rep1
    )
    assert r.status_code == 201, r.text
    first = r.json()
    r = await api.client.post(
        "/v1/deals", json={**(await deal_body(api)), "custom_fields": {"po_number": "PO-1"}}, headers=api.rep1
    )
    assert fields_named(r) == ["custom_fields.po_number"] and r.json()["errors"][0]["type"] == "unique"
    # The deal keeps its own value; clearing a required one is refused.
    r = await api.client.patch(
        f"/v1/deals/{first['id']}", json={"custom_fields": {"po_number": "PO-1"}}, headers=api.rep1
    )
    assert r.status_code == 200, r.text
    r = await api.client.patch(
        f"/v1/deals/{first['id']}", json={"custom_fields": {"po_number": None}}, headers=api.rep1
    )
    assert fields_named(r) == ["custom_fields.po_number"]


@pytest.mark.sqlite
async def test_a_patch_merges_keys_null_clears_and_deal_updated_carries_the_values(api: Api) -> None:
    await every_type(api)
    r = await api.client.post(
        "/v1/deals",
        json={**(await deal_body(api)), "custom_fields": {"note": "a", "seats": 3}},
        headers=api.rep1,
    )
    deal = r.json()
    r = await api.client.patch(
        f"/v1/deals/{deal['id']}", json={"custom_fields": {"note": None, "industry": "banking"}}, headers=api.rep1
    )
    assert r.status_code == 200, r.text
    assert r.json()["custom_fields"] == {"seats": 3, "industry": "banking"}
    [updated] = await api.events("deal.updated")
    assert updated["data"]["changes"] == {"custom_fields": {"seats": 3, "industry": "banking"}}
    # The same values again change nothing: no event, no new version.
    r = await api.client.patch(
        f"/v1/deals/{deal['id']}", json={"custom_fields": {"industry": "banking"}}, headers=api.rep1
    )
    assert r.status_code == 200 and len(await api.events("deal.updated")) == 1


@pytest.mark.sqlite
async def test_lists_and_search_filter_on_custom_fields(api: Api) -> None:
    await every_type(api)
    made = {}
    for name, values in {
        "a": {"industry": "retail", "seats": 10, "renewal": "2027-01-01", "regions": ["emea"], "signed": True},
        "b": {"industry": "banking", "seats": 200, "renewal": "2027-06-01", "regions": ["apac", "emea"]},
        "c": {"industry": "retail", "seats": 50, "budget": {"amount": "99.90", "currency": "EUR"}},
        "d": {},
    }.items():
        r = await api.client.post(
            "/v1/deals", json={**(await deal_body(api)), "title": name, "custom_fields": values}, headers=api.rep1
        )
        assert r.status_code == 201, r.text
        made[r.json()["id"]] = name

    async def listed(query: str) -> list[str]:
        r = await api.client.get(f"/v1/deals?{query}", headers=api.rep1)
        assert r.status_code == 200, r.text
        return sorted(made[d["id"]] for d in r.json()["items"])

    assert await listed("custom_fields.industry=retail") == ["a", "c"]
    assert await listed("custom_fields.seats[gte]=50") == ["b", "c"]
    assert await listed("custom_fields.seats[gt]=10&custom_fields.industry=retail") == ["c"]
    assert await listed("custom_fields.renewal[lt]=2027-03-01") == ["a"]
    assert await listed("custom_fields.regions=emea") == ["a", "b"]
    assert await listed("custom_fields.signed=true") == ["a"]
    assert await listed("custom_fields.budget[lte]=100") == ["c"]
    assert await listed("custom_fields.industry[has]=false") == ["d"]
    r = await api.client.get("/v1/deals?custom_fields.nothing=1", headers=api.rep1)
    assert fields_named(r) == ["custom_fields.nothing"] and r.json()["errors"][0]["location"] == "query"
    r = await api.client.get("/v1/deals?custom_fields.seats[gte]=lots", headers=api.rep1)
    assert fields_named(r) == ["custom_fields.seats[gte]"]
    r = await api.client.get("/v1/deals?custom_field=1", headers=api.rep1)
    assert fields_named(r) == ["custom_field"]

    async def found(*filters: dict[str, Any]) -> list[str]:
        r = await api.client.post(
            "/v1/deals/search", json={"filter_groups": [{"filters": list(filters)}]}, headers=api.rep1
        )
        assert r.status_code == 200, r.text
        return sorted(made[d["id"]] for d in r.json()["items"])

    assert await found({"property": "custom_fields.industry", "operator": "eq", "value": "banking"}) == ["b"]
    assert await found({"property": "custom_fields.seats", "operator": "between", "value": ["20", "300"]}) == [
        "b",
        "c",
    ]
    assert await found({"property": "custom_fields.renewal", "operator": "gte", "value": "2027-02-01"}) == ["b"]
    assert await found({"property": "custom_fields.regions", "operator": "contains_token", "value": "apac"}) == ["b"]
    assert await found({"property": "custom_fields.industry", "operator": "in", "value": ["retail", "banking"]}) == [
        "a",
        "b",
        "c",
    ]
    r = await api.client.post(
        "/v1/deals/search",
        json={"filter_groups": [{"filters": [{"property": "custom_fields.industry", "operator": "eq", "value": "x"}]}]},
        headers=api.rep1,
    )
    assert fields_named(r) == ["filter_groups.0.filters.0.value"]
    r = await api.client.post(
        "/v1/deals/search",
        json={"filter_groups": [{"filters": [{"property": "custom_fields.nope", "operator": "eq", "value": "x"}]}]},
        headers=api.rep1,
    )
    assert fields_named(r) == ["filter_groups.0.filters.0.property"]


async def test_defining_a_field_builds_its_index_on_postgresql(api: Api) -> None:
    await define(api, "deal", "industry", "enum", options=options("retail"))
    await define(api, "deal", "seats", "number")
    await define(api, "deal", "regions", "multi_enum", options=options("emea"))
    await define(api, "lead", "budget", "money")
    async with api.app.state.runtime.sessions() as s:
        rows = dict(
            (await s.execute(text("SELECT indexname, indexdef FROM pg_indexes WHERE indexname LIKE 'ix_cf_%'"))).all()
        )
        valid = (
            await s.execute(
                text("SELECT bool_and(indisvalid) FROM pg_index WHERE indexrelid::regclass::text LIKE 'ix_cf_%'")
            )
        ).scalar()
    assert set(rows) == {"ix_cf_deals_industry", "ix_cf_deals_seats", "ix_cf_deals_regions", "ix_cf_leads_budget"}
    assert "((custom_fields ->> 'industry'::text)), id)" in rows["ix_cf_deals_industry"]
    assert "numeric" in rows["ix_cf_deals_seats"] and "gin" in rows["ix_cf_deals_regions"]
    assert "'amount'" in rows["ix_cf_leads_budget"]
    assert valid is True
    # The list's query is served by the index (the planner told to avoid a scan of the table).
    async with api.app.state.runtime.sessions() as s:
        await s.execute(text("SET enable_seqscan = off"))
        plan = "\n".join(
            r[0]
            for r in await s.execute(
                text(
                    "EXPLAIN SELECT id FROM deals WHERE (custom_fields ->> 'industry') = 'retail' ORDER BY id LIMIT 51"
                )
            )
        )
    assert "ix_cf_deals_industry" in plan
    # An index lost (a replica stopped between the definition's commit and its index) comes back
    # with the scheduled job; the archived field's does not.
    r = await api.client.patch("/v1/custom-fields/deal.regions", json={"archived": True}, headers=admin(api))
    assert r.status_code == 200
    async with api.app.state.runtime.sessions() as s:
        await s.execute(text("DROP INDEX ix_cf_deals_seats"))
        await s.execute(text("DROP INDEX ix_cf_deals_regions"))
        await s.commit()
    built = await CUSTOM_FIELDS.index_job("sales").run(api.app.state.runtime.sessions, T0)
    assert "ix_cf_deals_seats" in built and "ix_cf_deals_regions" not in built
    async with api.app.state.runtime.sessions() as s:
        names = set(
            (await s.execute(text("SELECT indexname FROM pg_indexes WHERE indexname LIKE 'ix_cf_%'"))).scalars()
        )
    assert names == {"ix_cf_deals_industry", "ix_cf_deals_seats", "ix_cf_leads_budget"}


@pytest.mark.sqlite
async def test_leads_take_custom_fields_and_an_erasure_clears_the_personal_ones(api: Api) -> None:
    await define(api, "lead", "linkedin", "text", personal=True)
    await define(api, "lead", "segment", "enum", options=options("smb", "enterprise"))
    await define(api, "deal", "contact_nick", "text", personal=True)
    r = await api.client.post(
        "/v1/leads",
        json={
            "name": "Ada",
            "source": "web_form",
            "custom_fields": {"linkedin": "in/ada", "segment": "smb"},
        },
        headers=api.rep1,
    )
    assert r.status_code == 201, r.text
    lead = r.json()
    assert lead["custom_fields"] == {"linkedin": "in/ada", "segment": "smb"}
    [created] = await api.events("lead.created")
    assert created["data"]["custom_fields"] == {"linkedin": "in/ada", "segment": "smb"}
    r = await api.client.post("/v1/leads", json={"name": "Bob", "source": "web_form"}, headers=api.rep1)
    assert r.status_code == 201
    r = await api.client.get("/v1/leads?custom_fields.segment=smb", headers=api.rep1)
    assert [x["id"] for x in r.json()["items"]] == [lead["id"]]
    r = await api.client.patch(f"/v1/leads/{lead['id']}", json={"custom_fields": {"segment": "big"}}, headers=api.rep1)
    assert fields_named(r) == ["custom_fields.segment"]
    r = await api.client.patch(
        f"/v1/leads/{lead['id']}", json={"custom_fields": {"segment": "enterprise"}}, headers=api.rep1
    )
    assert r.status_code == 200 and r.json()["custom_fields"]["segment"] == "enterprise"
    [updated] = await api.events("lead.updated")
    assert updated["data"]["changes"]["custom_fields"] == {"linkedin": "in/ada", "segment": "enterprise"}

    # The customer's erasure clears its deals' personal values, keeps the others.
    body = await deal_body(api)
    r = await api.client.post("/v1/deals", json={**body, "custom_fields": {"contact_nick": "Addie"}}, headers=api.rep1)
    deal = r.json()
    await api.consume(CustomerErased(customer_id=uuid.UUID(body["customer_id"]), requested_by="dpo", erased_at=T0))
    got = (await api.client.get(f"/v1/deals/{deal['id']}", headers=api.rep1)).json()
    assert got["custom_fields"] == {}


SORTED: dict[str, dict[str, Any]] = {  # title -> values; "h" has none
    "a": {"seats": 5, "budget": {"amount": "10.00", "currency": "EUR"}, "renewal": "2027-03-01", "industry": "retail"},
    "b": {"seats": "1.25", "note": "zeta", "signed": True, "industry": "banking"},
    "c": {"seats": 5, "budget": {"amount": "9.50", "currency": "EUR"}, "note": "alpha", "signed": False},
    "d": {"renewal": "2026-12-31", "note": "alpha", "signed": True},
    "e": {"seats": -3, "budget": {"amount": "100.00", "currency": "EUR"}, "industry": "retail"},
    "f": {"budget": {"amount": "10.00", "currency": "EUR"}, "renewal": "2027-03-01"},
    "g": {"seats": 1000, "industry": "banking"},
    "h": {},
}


def _expected(made: dict[str, str], key: str, descending: bool) -> list[str]:
    """Titles in the documented order: by value (then id), records without the value last by id."""

    def value(title: str) -> Any:
        v = SORTED[title][key]
        if key == "seats":
            return float(v)
        if key == "budget":
            return float(v["amount"])
        return v

    ids = {t: uuid.UUID(i).hex for i, t in made.items()}
    having = sorted((t for t in ids if key in SORTED[t]), key=lambda t: (value(t), ids[t]), reverse=descending)
    lacking = sorted((t for t in ids if key not in SORTED[t]), key=lambda t: ids[t], reverse=descending)
    return having + lacking


@pytest.mark.sqlite
async def test_search_sorts_by_each_type_of_custom_field_with_records_lacking_it_last_page_by_page(api: Api) -> None:
    await every_type(api)
    made = {}
    for title, values in SORTED.items():
        r = await api.client.post(
            "/v1/deals", json={**(await deal_body(api)), "title": title, "custom_fields": values}, headers=api.rep1
        )
        assert r.status_code == 201, r.text
        made[r.json()["id"]] = title

    async def paged(key: str, direction: str) -> list[str]:
        body: dict[str, Any] = {"sorts": [{"property": f"custom_fields.{key}", "direction": direction}], "limit": 3}
        seen: list[str] = []
        while True:
            r = await api.client.post("/v1/deals/search", json=body, headers=api.manager)
            assert r.status_code == 200, r.text
            seen += [made[d["id"]] for d in r.json()["items"]]
            if not r.json()["next_cursor"]:
                return seen
            body["after"] = r.json()["next_cursor"]

    for key, direction in [
        ("seats", "asc"),
        ("seats", "desc"),
        ("budget", "desc"),
        ("renewal", "asc"),
        ("industry", "desc"),
        ("note", "asc"),
        ("signed", "desc"),
    ]:
        got = await paged(key, direction)
        assert got == _expected(made, key, direction == "desc"), (key, direction, got)
    # Spot checks of the typed order: numbers as numbers (-3 < 1.25 < 5 < 1000), not as text.
    seats = await paged("seats", "asc")
    assert seats[:2] == ["e", "b"] and set(seats[2:4]) == {"a", "c"} and seats[4] == "g"
    assert set(seats[5:]) == {"d", "f", "h"}
    assert (await paged("signed", "asc"))[0] == "c"

    # Filters and the sort together, one record per page across the values and the missing ones.
    body: dict[str, Any] = {
        "filter_groups": [{"filters": [{"property": "custom_fields.industry", "operator": "neq", "value": "banking"}]}],
        "sorts": [{"property": "custom_fields.renewal", "direction": "desc"}],
        "limit": 1,
    }
    seen = []
    while True:
        r = await api.client.post("/v1/deals/search", json=body, headers=api.manager)
        assert r.status_code == 200, r.text
        seen += [made[d["id"]] for d in r.json()["items"]]
        if not r.json()["next_cursor"]:
            break
        body["after"] = r.json()["next_cursor"]
    assert seen == [t for t in _expected(made, "renewal", True) if SORTED[t].get("industry") != "banking"]

    # An unknown key, a multi_enum and an archived field do not sort: a 422 naming sorts.0.property.
    r = await api.client.patch("/v1/custom-fields/deal.champion", json={"archived": True}, headers=admin(api))
    assert r.status_code == 200, r.text
    for key in ("nothing", "regions", "champion"):
        r = await api.client.post(
            "/v1/deals/search", json={"sorts": [{"property": f"custom_fields.{key}"}]}, headers=api.manager
        )
        assert fields_named(r) == ["sorts.0.property"], key
    # A cursor of another sort is not this search's.
    r = await api.client.post(
        "/v1/deals/search", json={"sorts": [{"property": "created_at"}], "limit": 1}, headers=api.manager
    )
    cursor = r.json()["next_cursor"]
    r = await api.client.post(
        "/v1/deals/search",
        json={"sorts": [{"property": "custom_fields.seats"}], "after": cursor},
        headers=api.manager,
    )
    assert fields_named(r) == ["after"]


async def test_a_sort_by_a_custom_field_is_read_from_its_index_on_postgresql(api: Api) -> None:
    await define(api, "deal", "seats", "number")
    await define(api, "deal", "renewal", "date")
    for values in ({"seats": 3, "renewal": "2027-01-01"}, {"seats": 1}, {}):
        r = await api.client.post(
            "/v1/deals", json={**(await deal_body(api)), "custom_fields": values}, headers=api.rep1
        )
        assert r.status_code == 201, r.text
    engine = api.app.state.runtime.sessions.kw["bind"]
    issued: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        if statement.lstrip().startswith("SELECT") and "ORDER BY" in statement and "custom_fields" in statement:
            issued.append((statement, parameters))

    event.listen(engine.sync_engine, "before_cursor_execute", capture)
    try:
        for key, direction in (("seats", "asc"), ("seats", "desc"), ("renewal", "desc")):
            body: dict[str, Any] = {"sorts": [{"property": f"custom_fields.{key}", "direction": direction}], "limit": 1}
            for _ in range(3):  # a first page, a page after a value, a page among the records without one
                r = await api.client.post("/v1/deals/search", json=body, headers=api.manager)
                assert r.status_code == 200, r.text
                body["after"] = r.json()["next_cursor"]
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", capture)
    assert len(issued) >= 9
    async with engine.connect() as conn:
        # The planner told to avoid a scan of the table and a sort: only a matching index serves it.
        await conn.exec_driver_sql("SET enable_seqscan = off")
        await conn.exec_driver_sql("SET enable_sort = off")
        for statement, parameters in issued:
            plan = "\n".join(r[0] for r in await conn.exec_driver_sql("EXPLAIN " + statement, parameters))
            assert "Sort" not in plan and "Seq Scan" not in plan, (statement, plan)
            if "IS NOT NULL" in statement:  # the records with a value: a range of the field's index
                assert "ix_cf_deals_" in plan, (statement, plan)
