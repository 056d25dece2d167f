"""/v1/recommendations: co-occurrence over won deals' line items, with evidence counts."""

from __future__ import annotations

import uuid

import pytest

from tessera_sales.recommendations.rules import co_occurrence
from tessera_sales.testing import Api

BASKETS = {
    "me": {"A", "B"},
    "n1": {"A", "C", "D"},
    "n2": {"B", "C"},
    "n3": {"A", "D", "E"},
    "stranger": {"Z"},  # shares nothing with me: no evidence
}


class TestRecommendations:
    async def test_matches_the_reference_rule(self, api: Api) -> None:
        for code in ("A", "B", "C", "D", "E", "Z"):
            await api.product(code, price="10.00")
        customers = {name: str(uuid.uuid4()) for name in BASKETS}
        for name, codes in BASKETS.items():
            deal = await api.deal(
                api.manager,
                customer_id=customers[name],
                amount=None,
                line_items=[{"product_code": c, "quantity": "1"} for c in sorted(codes)],
            )
            assert (await api.client.post(f"/v1/deals/{deal['id']}/win", headers=api.manager)).status_code == 200
        open_deal = await api.deal(
            api.manager, customer_id=customers["n2"], amount=None, line_items=[{"product_code": "E", "quantity": "1"}]
        )  # not won: no evidence
        assert open_deal["stage"] == "prospecting"
        r = await api.client.get(f"/v1/recommendations?customer_id={customers['me']}", headers=api.rep1)
        assert r.status_code == 200, r.text
        got = [(x["product_code"], x["evidence"]) for x in r.json()["items"]]
        expected = [(x.product_code, x.evidence) for x in co_occurrence(BASKETS["me"], BASKETS)]
        assert got == expected == [("C", 2), ("D", 2), ("E", 1)]
        assert r.json()["bought"] == ["A", "B"] and r.json()["items"][0]["name"] == "Product C"
        r = await api.client.get(f"/v1/recommendations?customer_id={customers['me']}&limit=1", headers=api.rep1)
        assert [x["product_code"] for x in r.json()["items"]] == ["C"]

    @pytest.mark.sqlite
    async def test_errors(self, api: Api) -> None:
        assert (await api.client.get(f"/v1/recommendations?customer_id={uuid.uuid4()}")).status_code == 401
        r = await api.client.get(f"/v1/recommendations?customer_id={uuid.uuid4()}", headers=api.as_("p", "partner"))
        assert r.status_code == 403
        r = await api.client.get("/v1/recommendations?limit=0", headers=api.rep1)
        assert {e["field"] for e in r.json()["errors"]} == {"customer_id", "limit"}
        r = await api.client.get(f"/v1/recommendations?customer_id={uuid.uuid4()}", headers=api.rep1)
        assert r.json()["items"] == [] and r.json()["bought"] == []
