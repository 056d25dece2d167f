"""POST /v1/invoices/search (issue 23, item 2): dates, decimals, enums and free text."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from billing_helpers import clerk, customer_created, deliver, invoice_payload
from fastapi import FastAPI

from tessera_shared.testing.plugin import bearer


def flt(prop: str, op: str, value: Any = None) -> dict[str, Any]:
    return {"property": prop, "operator": op, "value": value}


async def make(app: FastAPI, client: httpx.AsyncClient, name: str, price: str, **overrides: Any) -> dict[str, Any]:
    cid = uuid.uuid4()
    await deliver(app, customer_created(cid, name), cid)
    lines = [{"description": "Consulting", "quantity": "1", "unit_price": price}]
    r = await client.post("/v1/invoices", json=invoice_payload(cid, lines=lines, **overrides), headers=clerk(app))
    assert r.status_code == 201, r.text
    return r.json()


@pytest.mark.sqlite
async def test_groups_dates_decimals_and_free_text(app: FastAPI, client: httpx.AsyncClient) -> None:
    acme = await make(app, client, "Acme GmbH", "100.00", issue=True, issue_date="2026-03-01")
    apex = await make(app, client, "Apex AG", "900.00")
    other = await make(app, client, "Zeta", "50.00", issue=True, issue_date="2026-01-10")
    body = {
        "filter_groups": [
            {"filters": [flt("status", "eq", "draft")]},
            {"filters": [flt("issue_date", "between", ["2026-02-01", "2026-03-31"]), flt("total", "gt", "99.99")]},
        ],
        "sorts": [{"property": "total", "direction": "desc"}],
    }
    r = await client.post("/v1/invoices/search", json=body, headers=clerk(app))
    assert r.status_code == 200, r.text
    assert [i["id"] for i in r.json()["items"]] == [apex["id"], acme["id"]]
    r = await client.post("/v1/invoices/search", json={"query": "Ap"}, headers=clerk(app))
    assert [i["id"] for i in r.json()["items"]] == [apex["id"]]
    number = {"filter_groups": [{"filters": [flt("number", "eq", other["number"])]}]}
    r = await client.post("/v1/invoices/search", json=number, headers=clerk(app))
    assert [i["id"] for i in r.json()["items"]] == [other["id"]]
    r = await client.post("/v1/invoices/search", json=body, headers=bearer(app, "p", "partner"))
    assert r.status_code == 403


async def test_bad_values_are_named(app: FastAPI, client: httpx.AsyncClient) -> None:
    cases = [
        (flt("issue_date", "eq", "01/03/2026"), "filter_groups.0.filters.0.value"),
        (flt("total", "eq", "1.00001"), "filter_groups.0.filters.0.value"),
        (flt("status", "eq", "lost"), "filter_groups.0.filters.0.value"),
        (flt("total", "contains_token", "1"), "filter_groups.0.filters.0.operator"),
        (flt("total", "between", ["1"]), "filter_groups.0.filters.0.value"),
    ]
    for condition, field in cases:
        r = await client.post(
            "/v1/invoices/search", json={"filter_groups": [{"filters": [condition]}]}, headers=clerk(app)
        )
        assert r.status_code == 422, (condition, r.text)
        assert [e["field"] for e in r.json()["errors"]] == [field], condition
