"""Sales money inputs: decimal strings only, and amounts that fit BIGINT minor units (a 422, never a 500)."""

from __future__ import annotations

import pytest

from tessera_sales.testing import Api, deal_payload
from tessera_shared.testing.openapi import number_typed_inputs


async def test_no_request_decimal_is_typed_number(api: Api) -> None:
    document = (await api.client.get("/openapi.json")).json()
    numbers = number_typed_inputs(document, parameters=False)
    assert numbers == []


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"amount": 1000}, "amount"),
        ({"amount": "1" * 15}, "amount"),
        (
            {"amount": None, "line_items": [{"description": "x", "quantity": "99999999999", "unit_price": "1"}]},
            "line_items.0.quantity",
        ),
        (
            {"amount": None, "line_items": [{"description": "x", "quantity": "0", "unit_price": "1"}]},
            "line_items.0.quantity",
        ),
        (
            {
                "amount": None,
                "line_items": [{"description": "x", "quantity": "9999999999", "unit_price": "99999999999"}],
            },
            "line_items.0.quantity",
        ),
        (
            {"amount": None, "line_items": [{"description": "x", "quantity": "9", "unit_price": "9999999999999"}] * 2},
            "line_items",
        ),
        ({"amount": "1000000000000", "currency": "CLF"}, "amount"),  # 10^12 CLF: 10^16 minor units
    ],
)
async def test_out_of_range_deals_are_a_422_naming_the_field(api: Api, overrides: dict, field: str) -> None:
    r = await api.client.post("/v1/deals", json=deal_payload(**overrides), headers=api.rep1)
    assert r.status_code == 422, r.text
    assert field in [e["field"] for e in r.json()["errors"]], r.json()


async def test_the_largest_amount_is_kept_exactly(api: Api) -> None:
    r = await api.client.post("/v1/deals", json=deal_payload(amount="99999999999999.99"), headers=api.rep1)
    assert r.status_code == 201, r.text
    assert r.json()["amount"] == "99999999999999.99"


async def test_campaign_budgets_take_decimal_strings_only(api: Api) -> None:
    body = {"name": "Fair", "channel": "event", "currency": "EUR", "starts_on": "2026-03-01"}
    for budget in (5000, 0.1, "-1", "1" * 15):
        r = await api.client.post("/v1/campaigns", json={**body, "budget": budget}, headers=api.manager)
        assert r.status_code == 422 and [e["field"] for e in r.json()["errors"]] == ["budget"], (budget, r.text)
