"""Money inputs: decimal strings with their limits in the OpenAPI, bounds that fit the columns, v7 ids."""

from __future__ import annotations

import json
import uuid

import httpx
import pytest
from billing_helpers import PROBLEM, clerk, count, customer_created, deliver, finance, invoice_payload
from fastapi import FastAPI

from tessera_billing.invoices.models import Invoice
from tessera_shared.testing.openapi import number_typed_inputs


async def test_money_inputs_are_strings_with_their_limits(app: FastAPI, client: httpx.AsyncClient) -> None:
    document = (await client.get("/openapi.json")).json()
    assert number_typed_inputs(document) == []
    line = document["components"]["schemas"]["LineIn"]["properties"]
    assert line["quantity"]["type"] == "string" and "pattern" in line["quantity"]
    assert "1" * 15 not in json.dumps(line["unit_price"])
    import re

    assert re.search(line["unit_price"]["pattern"], "9" * 14 + ".9999")
    assert not re.search(line["unit_price"]["pattern"], "9" * 15)
    assert not re.search(line["discount_percent"]["pattern"], "100.5")


@pytest.mark.parametrize(
    ("line", "field"),
    [
        ({"quantity": 1, "unit_price": "1"}, "lines.0.quantity"),  # a JSON number
        ({"quantity": "1", "unit_price": 0.1}, "lines.0.unit_price"),  # a float is never rounded
        ({"quantity": "99999999999", "unit_price": "99999999999"}, "lines.0.quantity"),  # 11 digits
        ({"quantity": "1", "unit_price": "999999999999999"}, "lines.0.unit_price"),  # 15 digits
        ({"quantity": "1", "unit_price": "1", "tax_rate_percent": "100.5"}, "lines.0.tax_rate_percent"),
        ({"quantity": "9999999999", "unit_price": "99999999999"}, "lines.0.unit_price"),  # product past 10^14
    ],
)
async def test_out_of_range_lines_are_a_422_naming_the_field(
    app: FastAPI,
    client: httpx.AsyncClient,
    line: dict,
    field: str,
) -> None:
    cid = uuid.uuid4()
    await deliver(app, customer_created(cid), cid)
    body = invoice_payload(cid, lines=[{"description": "x", **line}])
    r = await client.post("/v1/invoices", json=body, headers=clerk(app))
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == PROBLEM
    assert [e["field"] for e in r.json()["errors"]] == [field]
    assert await count(app, Invoice) == 0


async def test_an_invoice_total_past_the_limit_is_a_422(app: FastAPI, client: httpx.AsyncClient) -> None:
    cid = uuid.uuid4()
    await deliver(app, customer_created(cid), cid)
    lines = [{"description": "x", "quantity": "9", "unit_price": "9999999999999", "tax_rate_percent": "0"}] * 2
    r = await client.post("/v1/invoices", json=invoice_payload(cid, lines=lines), headers=clerk(app))
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "lines", r.text
    # The largest line that fits is stored exactly.
    ok = [{"description": "x", "quantity": "1", "unit_price": "99999999999999.99", "tax_rate_percent": "0"}]
    r = await client.post("/v1/invoices", json=invoice_payload(cid, lines=ok), headers=clerk(app))
    assert r.status_code == 201, r.text
    assert r.json()["total"] == "99999999999999.99"


async def test_payments_and_credit_limits_take_decimal_strings_only(app: FastAPI, client: httpx.AsyncClient) -> None:
    cid = uuid.uuid4()
    await deliver(app, customer_created(cid), cid)
    r = await client.post(
        "/v1/payments",
        json={
            "customer_id": str(cid),
            "amount": 10.5,
            "currency": "EUR",
            "method": "bank_transfer",
            "received_on": "2026-03-01",
        },
        headers=clerk(app),
    )
    assert r.status_code == 422 and [e["field"] for e in r.json()["errors"]] == ["amount"], r.text
    r = await client.post(f"/v1/credit/{cid}/check", json={"amount": "1" * 15, "currency": "EUR"}, headers=finance(app))
    assert r.status_code == 422 and [e["field"] for e in r.json()["errors"]] == ["amount"], r.text


async def test_invoice_ids_are_uuid_v7(app: FastAPI, client: httpx.AsyncClient) -> None:
    cid = uuid.uuid4()
    await deliver(app, customer_created(cid), cid)
    r = await client.post("/v1/invoices", json=invoice_payload(cid), headers=clerk(app))
    assert r.status_code == 201, r.text
    assert uuid.UUID(r.json()["id"]).version == 7
