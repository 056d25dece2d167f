"""GET /v1/customers/{id}/sales-summary: sales' part of the 360 view, with the deal list's rules."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tessera_sales.deals import rules
from tessera_sales.summary import router as summary_router
from tessera_sales.summary import service as summary_service
from tessera_sales.testing import PROBLEM, Api


def url(customer_id: str) -> str:
    return f"/v1/customers/{customer_id}/sales-summary"


async def summary(api: Api, customer_id: str, headers: dict[str, str]) -> dict[str, Any]:
    r = await api.client.get(url(customer_id), headers=headers)
    assert r.status_code == 200, r.text
    return r.json()


async def listed(api: Api, customer_id: str, headers: dict[str, str]) -> list[dict[str, Any]]:
    r = await api.client.get("/v1/deals", params={"customer_id": customer_id, "limit": 200}, headers=headers)
    assert r.status_code == 200, r.text
    return r.json()["items"]


@pytest.mark.sqlite  # the minor-unit sums in SQL on both databases
async def test_open_deals_and_sums_per_currency_in_minor_units(api: Api) -> None:
    cid = str(uuid.uuid4())
    eur = await api.deal(
        customer_id=cid,
        amount=None,
        stage="proposal",  # 50 %
        line_items=[{"description": "Licence", "quantity": "2", "unit_price": "500.00"}],
    )
    await api.deal(customer_id=cid, amount="200.00", stage="negotiation")  # 80 %
    await api.deal(customer_id=cid, amount="12345", currency="JPY")  # prospecting, 10 %: 1234.5 -> 1235
    await api.deal(customer_id=cid, amount="1.234", currency="KWD", stage="qualification")  # 20 %: 0.2468
    await api.rate("USD", "EUR", "0.9")  # a win in USD is checked against the EUR credit limit (§10.1)
    for amount, currency in (("300.00", "EUR"), ("50", "USD")):
        won = await api.deal(customer_id=cid, amount=amount, currency=currency)
        assert (await api.client.post(f"/v1/deals/{won['id']}/win", json={}, headers=api.rep1)).status_code == 200
    lost = await api.deal(customer_id=cid, amount="9.00")
    r = await api.client.post(f"/v1/deals/{lost['id']}/lose", json={"reason": "price"}, headers=api.rep1)
    assert r.status_code == 200
    await api.deal(amount="777.00")  # another customer's

    body = await summary(api, cid, api.manager)
    every = await listed(api, cid, api.manager)
    # Only the open deals, exactly as GET /v1/deals shows them (line items included).
    assert body["open_deals"] == [d for d in every if d["stage"] in rules.OPEN_STAGES]
    assert len(body["open_deals"]) == 4
    [with_lines] = [d for d in body["open_deals"] if d["id"] == eur["id"]]
    assert with_lines["line_items"][0]["line_total"] == "1000.00"
    # Every deal, the latest change first (the lost one was changed last).
    assert len(body["recent_deals"]) == 7 and body["recent_deals"][0]["id"] == lost["id"]
    assert body["pipeline_value"] == [
        {"currency": "EUR", "amount": "1200.00"},
        {"currency": "JPY", "amount": "12345"},
        {"currency": "KWD", "amount": "1.234"},
    ]
    assert body["weighted_pipeline"] == [
        {"currency": "EUR", "amount": "660.00"},
        {"currency": "JPY", "amount": "1235"},
        {"currency": "KWD", "amount": "0.247"},
    ]
    assert body["lifetime_won"] == [{"currency": "EUR", "amount": "300.00"}, {"currency": "USD", "amount": "50.00"}]
    assert (body["customer_id"], body["truncated"]) == (cid, False)


@pytest.mark.sqlite
async def test_a_rep_sees_and_sums_only_own_deals(api: Api) -> None:
    cid = str(uuid.uuid4())
    mine = await api.deal(api.rep1, customer_id=cid, amount="100.00")
    theirs = await api.deal(api.rep2, customer_id=cid, amount="40.00")
    won = await api.deal(api.rep2, customer_id=cid, amount="5.00")
    assert (await api.client.post(f"/v1/deals/{won['id']}/win", json={}, headers=api.rep2)).status_code == 200

    rep1 = await summary(api, cid, api.rep1)
    assert [d["id"] for d in rep1["open_deals"]] == [mine["id"]]
    assert [d["id"] for d in rep1["recent_deals"]] == [mine["id"]]
    assert rep1["pipeline_value"] == [{"currency": "EUR", "amount": "100.00"}]
    assert rep1["lifetime_won"] == []
    # The same rule as the list.
    assert [d["id"] for d in rep1["recent_deals"]] == [d["id"] for d in await listed(api, cid, api.rep1)]

    for headers in (api.manager, api.as_("fm", "finance_manager"), api.as_("gw", "service")):
        everyone = await summary(api, cid, headers)
        assert [d["id"] for d in everyone["open_deals"]] == sorted([mine["id"], theirs["id"]])  # id order
        assert everyone["pipeline_value"] == [{"currency": "EUR", "amount": "140.00"}]
        assert everyone["lifetime_won"] == [{"currency": "EUR", "amount": "5.00"}]


async def test_roles_are_the_deal_lists(api: Api) -> None:
    cid = str(uuid.uuid4())
    r = await api.client.get(url(cid))
    assert (r.status_code, r.headers["content-type"]) == (401, PROBLEM)
    for role in ("support_agent", "billing_clerk", "partner"):
        r = await api.client.get(url(cid), headers=api.as_("x", role))
        assert (r.status_code, r.headers["content-type"]) == (403, PROBLEM), role
    assert (await api.client.get(url("nope"), headers=api.manager)).status_code == 422
    # An unknown customer (sales may not have heard of it yet) has nothing.
    empty = await summary(api, cid, api.as_("admin", "admin"))
    assert (empty["open_deals"], empty["recent_deals"], empty["pipeline_value"]) == ([], [], [])

    doc = api.app.openapi()
    deals, mine = doc["paths"]["/v1/deals"]["get"], doc["paths"]["/v1/customers/{customer_id}/sales-summary"]["get"]
    assert mine["security"] == deals["security"]  # require_roles' scopes: the same roles as GET /v1/deals
    assert {"200", "401", "403"} <= set(mine["responses"])
    assert mine["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/SalesSummary"
    }
    assert summary_service.WON in rules.CLOSED_STAGES


async def test_truncated_when_more_open_deals_than_listed(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(summary_router, "OPEN_LISTED", 2)
    cid = str(uuid.uuid4())
    ids = [(await api.deal(customer_id=cid, amount="1.00"))["id"] for _ in range(3)]
    body = await summary(api, cid, api.rep1)
    assert [d["id"] for d in body["open_deals"]] == sorted(ids)[:2]  # id order
    assert body["truncated"] is True
    assert body["pipeline_value"] == [{"currency": "EUR", "amount": "3.00"}]  # the sums cover all
