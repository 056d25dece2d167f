"""POST /v1/deals/search and /v1/leads/search: the shared search language, owner rules as the lists'."""

from __future__ import annotations

from typing import Any

import pytest

from tessera_sales.testing import PROBLEM, Api


async def search(api: Api, resource: str, body: dict[str, Any], headers: dict[str, str]) -> Any:
    r = await api.client.post(f"/v1/{resource}/search", json=body, headers=headers)
    assert r.status_code == 200, r.text
    return r.json()


def flt(prop: str, op: str, value: Any = None) -> dict[str, Any]:
    return {"property": prop, "operator": op, "value": value}


class TestDealSearch:
    @pytest.mark.sqlite
    async def test_or_of_groups_and_within_a_group(self, api: Api) -> None:
        small = await api.deal(title="Alpha small", amount="100.00")
        big = await api.deal(title="Beta big", amount="5000.00", stage="negotiation")
        await api.deal(title="Gamma mid", amount="900.00")
        body = {
            "filter_groups": [
                {"filters": [flt("amount", "lt", "200"), flt("stage", "eq", "prospecting")]},
                {"filters": [flt("stage", "eq", "negotiation"), flt("amount", "gte", "5000.00")]},
            ],
            "sorts": [{"property": "amount", "direction": "desc"}],
        }
        page = await search(api, "deals", body, api.manager)
        assert [d["id"] for d in page["items"]] == [big["id"], small["id"]]
        assert page["items"][0]["line_items"] == [] and page["next_cursor"] is None

    async def test_a_rep_finds_only_own_deals(self, api: Api) -> None:
        mine = await api.deal(headers=api.rep1, title="Shared prefix one")
        theirs = await api.deal(headers=api.rep2, title="Shared prefix two")
        body = {"query": "Shared prefix"}
        assert [d["id"] for d in (await search(api, "deals", body, api.rep1))["items"]] == [mine["id"]]
        assert [d["id"] for d in (await search(api, "deals", body, api.rep2))["items"]] == [theirs["id"]]
        # Naming the other rep's deals does not widen the scope.
        other = {"filter_groups": [{"filters": [flt("owner_id", "eq", "rep2")]}]}
        assert (await search(api, "deals", other, api.rep1))["items"] == []
        everyone = await search(api, "deals", body, api.manager)
        assert {d["id"] for d in everyone["items"]} == {mine["id"], theirs["id"]}

    async def test_operators(self, api: Api) -> None:
        a = await api.deal(title="A", amount="10.00", expected_close_date="2026-03-01")
        b = await api.deal(title="B", amount="20.00", stage="proposal")
        c = await api.deal(title="C", amount="30.00", expected_close_date="2026-05-01")
        cases: list[tuple[dict[str, Any], set[str]]] = [
            (flt("amount", "eq", "20"), {b["id"]}),
            (flt("amount", "neq", "20.00"), {a["id"], c["id"]}),
            (flt("amount", "lt", "20"), {a["id"]}),
            (flt("amount", "lte", "20"), {a["id"], b["id"]}),
            (flt("amount", "gt", "20"), {c["id"]}),
            (flt("amount", "gte", "20"), {b["id"], c["id"]}),
            (flt("amount", "between", ["15", "30"]), {b["id"], c["id"]}),
            (flt("stage", "in", ["proposal", "won"]), {b["id"]}),
            (flt("stage", "not_in", ["proposal"]), {a["id"], c["id"]}),
            (flt("expected_close_date", "has_property"), {a["id"], c["id"]}),
            (flt("expected_close_date", "not_has_property"), {b["id"]}),
            (flt("expected_close_date", "between", ["2026-01-01", "2026-03-31"]), {a["id"]}),
            (flt("customer_id", "eq", a["customer_id"]), {a["id"]}),
            (flt("created_at", "gte", "2020-01-01T00:00:00Z"), {a["id"], b["id"], c["id"]}),
            (flt("owner_id", "neq", "rep2"), {a["id"], b["id"], c["id"]}),
        ]
        for condition, expected in cases:
            page = await search(api, "deals", {"filter_groups": [{"filters": [condition]}]}, api.manager)
            assert {d["id"] for d in page["items"]} == expected, condition

    async def test_keyset_pages_under_a_sort_are_stable(self, api: Api) -> None:
        ids = [(await api.deal(amount=amount))["id"] for amount in ("5.00", "1.00", "5.00", "3.00", "2.00")]
        body: dict[str, Any] = {"sorts": [{"property": "amount"}], "limit": 2}
        seen: list[str] = []
        while True:
            page = await search(api, "deals", body, api.manager)
            seen += [d["id"] for d in page["items"]]
            if not page["next_cursor"]:
                break
            body["after"] = page["next_cursor"]
        assert len(seen) == 5 and set(seen) == set(ids)
        assert seen[:3] == [ids[1], ids[4], ids[3]]

    @pytest.mark.sqlite
    async def test_a_cursor_pages_only_the_search_that_made_it(self, api: Api) -> None:
        for amount in ("1.00", "2.00", "3.00"):
            await api.deal(title="Pager", amount=amount)
        body: dict[str, Any] = {
            "filter_groups": [{"filters": [flt("amount", "gte", "1")]}],
            "sorts": [{"property": "amount"}],
            "limit": 1,
        }
        cursor = (await search(api, "deals", body, api.manager))["next_cursor"]
        assert cursor
        # The same search goes on, with another page size too.
        assert (await search(api, "deals", {**body, "after": cursor, "limit": 5}, api.manager))["items"]
        others = [
            {**body, "filter_groups": [{"filters": [flt("amount", "gte", "2")]}]},
            {**body, "sorts": [{"property": "amount", "direction": "desc"}]},
            {k: v for k, v in body.items() if k != "filter_groups"},
        ]
        for other in others:
            r = await api.client.post("/v1/deals/search", json={**other, "after": cursor}, headers=api.manager)
            assert r.status_code == 422, (other, r.text)
            assert r.json()["errors"][0]["field"] == "after"
        # Nor does it page another resource's search.
        r = await api.client.post("/v1/leads/search", json={"after": cursor}, headers=api.manager)
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "after"

    async def test_bad_filters_are_named(self, api: Api) -> None:
        body = {
            "filter_groups": [
                {"filters": [flt("amount", "eq", "1")]},
                {
                    "filters": [
                        flt("stage_kind", "eq", "sold"),
                        flt("amount", "between", ["9", "1"]),
                        flt("stage_kind", "lt", "x"),
                    ]
                },
            ]
        }
        r = await api.client.post("/v1/deals/search", json=body, headers=api.manager)
        assert r.status_code == 422 and r.headers["content-type"] == PROBLEM
        assert [e["field"] for e in r.json()["errors"]] == [
            "filter_groups.1.filters.0.value",
            "filter_groups.1.filters.1.value",
            "filter_groups.1.filters.2.operator",
        ]
        cases: list[tuple[dict[str, Any], str]] = [
            ({"filter_groups": [{"filters": [flt("colour", "eq", "red")]}]}, "filter_groups.0.filters.0.property"),
            ({"filter_groups": [{"filters": [flt("amount", "like", "1")]}]}, "filter_groups.0.filters.0.operator"),
            (
                {"filter_groups": [{"filters": [flt("created_at", "gt", "2026-01-01T00:00:00")]}]},
                "filter_groups.0.filters.0.value",
            ),
            ({"filter_groups": [{"filters": [flt("amount", "in", [])]}]}, "filter_groups.0.filters.0.value"),
            ({"filter_groups": [{"filters": [flt("customer_id", "eq", "nope")]}]}, "filter_groups.0.filters.0.value"),
            ({"filter_groups": [{"filters": [flt("amount", "eq", "1e400")]}]}, "filter_groups.0.filters.0.value"),
            ({"filter_groups": [{"filters": []}]}, "filter_groups.0.filters"),
            ({"filter_groups": [{"filters": [flt("amount", "gt", "1")]}] * 6}, "filter_groups"),
            ({"sorts": [{"property": "stage"}]}, "sorts.0.property"),
            ({"after": "forged"}, "after"),
            ({"colour": "red"}, "colour"),
        ]
        for bad, field in cases:
            r = await api.client.post("/v1/deals/search", json=bad, headers=api.manager)
            assert r.status_code == 422, (bad, r.text)
            assert r.json()["errors"][0]["field"] == field, (bad, r.json())

    async def test_the_search_is_documented_with_its_properties_and_operators(self, api: Api) -> None:
        doc = api.app.openapi()
        op = doc["paths"]["/v1/deals/search"]["post"]
        assert op["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith("Page_DealOut_")
        schemas = doc["components"]["schemas"]
        prop = schemas["DealSearchFilter"]["properties"]["property"]
        # The declared properties, or a custom field's custom_fields.<key> (issue 24 part 2).
        assert prop["anyOf"][1]["pattern"].startswith("^custom_fields")
        assert set(prop["anyOf"][0]["enum"]) == {
            "id",
            "customer_id",
            "owner_id",
            "stage",
            "stage_kind",
            "pipeline_id",
            "campaign_id",
            "amount",
            "expected_close_date",
            "created_at",
            "tags",
        }
        assert "contains_token" in schemas["DealSearchFilter"]["properties"]["operator"]["enum"]
        # One sort: a declared sortable property or a custom field (records without it last).
        sort = schemas["DealSearchSort"]["properties"]["property"]
        assert set(sort["anyOf"][0]["enum"]) == {"id", "amount", "created_at"}
        assert sort["anyOf"][1]["pattern"].startswith("^custom_fields")
        assert "come last in both directions" in sort["description"]


class TestLeadSearch:
    @pytest.mark.sqlite
    async def test_free_text_and_groups_for_a_rep(self, api: Api) -> None:
        async def lead(headers: dict[str, str], **body: Any) -> dict[str, Any]:
            r = await api.client.post("/v1/leads", json={"source": "web_form", **body}, headers=headers)
            assert r.status_code == 201, r.text
            return r.json()

        grace = await lead(api.rep1, name="Grace Hopper", company="Navy Labs")
        ada = await lead(api.rep1, name="Ada", company="Gracefield", source="referral")
        await lead(api.rep2, name="Grace Other", company="Elsewhere")
        page = await search(api, "leads", {"query": "Grace"}, api.rep1)
        assert {x["id"] for x in page["items"]} == {grace["id"], ada["id"]}
        # A free-text page's cursor does not carry on without its query.
        first = await search(api, "leads", {"query": "Grace", "limit": 1}, api.rep1)
        r = await api.client.post("/v1/leads/search", json={"after": first["next_cursor"]}, headers=api.rep1)
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "after", r.text
        body = {
            "filter_groups": [{"filters": [flt("source", "eq", "referral")]}, {"filters": [flt("score", "gte", 0)]}],
            "sorts": [{"property": "created_at", "direction": "desc"}],
        }
        page = await search(api, "leads", body, api.rep1)
        assert [x["id"] for x in page["items"]] == [ada["id"], grace["id"]]
        r = await api.client.post("/v1/leads/search", json={"query": "x"}, headers=api.as_("f", "finance_manager"))
        assert r.status_code == 403
