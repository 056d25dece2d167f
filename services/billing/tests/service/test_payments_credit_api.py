"""Payments (allocation, partial, over-payment as credit) and credit control (profile, limit, check)."""

from __future__ import annotations

import uuid
from datetime import date

import httpx
import pytest
from billing_helpers import PROBLEM, clerk, count, customer_created, deliver, events, finance, issued_invoice, pay
from fastapi import FastAPI

from tessera_billing.payments.models import Payment
from tessera_shared.testing.plugin import bearer


async def invoice(client: httpx.AsyncClient, app: FastAPI, invoice_id: str) -> dict:
    return (await client.get(f"/v1/invoices/{invoice_id}", headers=clerk(app))).json()


class TestRecordPayment:
    async def test_oldest_first_partial_and_credit_used_later(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        cid = uuid.uuid4()
        newer = await issued_invoice(app, client, cid, "100.00", issue_date=date(2026, 3, 5))
        older = await issued_invoice(app, client, cid, "60.00", issue_date=date(2026, 3, 1))
        r = await pay(app, client, customer_id=cid, amount="80.00", reference="TX-1")
        assert r.status_code == 201, r.text
        assert [(a["invoice_id"], a["amount"]) for a in r.json()["allocations"]] == [
            (older["id"], "60.00"),
            (newer["id"], "20.00"),
        ]
        assert (await invoice(client, app, older["id"]))["status"] == "paid"
        assert (await invoice(client, app, newer["id"]))["status"] == "partially_paid"
        # Over-payment: 80 open, 100 paid -> 20 kept as credit.
        r = await pay(app, client, invoice_id=newer["id"], amount="100.00")
        assert (r.json()["unallocated"], r.json()["allocations"][0]["amount"]) == ("20.00", "80.00")
        later = await issued_invoice(app, client, cid, "50.00", issue_date=date(2026, 4, 1))
        assert (later["amount_paid"], later["balance_due"], later["status"]) == ("20.00", "30.00", "partially_paid")
        [received, _] = await events(app, "payment.received")
        assert received["allocations"][0] == {"invoice_id": older["id"], "deal_id": None, "amount": "60.00"}
        assert {e["invoice_id"] for e in await events(app, "invoice.paid")} == {older["id"], newer["id"]}

    async def test_explicit_allocations(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        cid = uuid.uuid4()
        a = await issued_invoice(app, client, cid, "50.00")
        b = await issued_invoice(app, client, cid, "50.00")
        r = await pay(
            app, client, customer_id=cid, amount="50.00", allocations=[{"invoice_id": b["id"], "amount": "30"}]
        )
        assert r.status_code == 201
        assert (r.json()["allocations"][0]["invoice_id"], r.json()["unallocated"]) == (b["id"], "20.00")
        r = await pay(
            app, client, customer_id=cid, amount="60.00", allocations=[{"invoice_id": a["id"], "amount": "51"}]
        )
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "allocations.0.amount"

    async def test_refusals(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        cid = uuid.uuid4()
        inv = await issued_invoice(app, client, cid, "50.00")
        cases = [
            ({"invoice_id": inv["id"], "amount": "10", "currency": "USD"}, "currency"),
            ({"invoice_id": inv["id"], "amount": "10.001"}, "amount"),
            ({"invoice_id": inv["id"], "amount": "-1"}, "amount"),
            ({"amount": "10"}, "invoice_id"),
            ({"invoice_id": str(uuid.uuid4()), "amount": "10"}, "invoice_id"),
            ({"invoice_id": inv["id"], "amount": "10", "received_on": "2999-01-01"}, "received_on"),
            ({"invoice_id": inv["id"], "amount": "10", "method": "barter"}, "method"),
        ]
        for body, field in cases:
            r = await pay(app, client, **body)
            assert r.status_code == 422 and r.headers["content-type"] == PROBLEM, (body, r.text)
            assert r.json()["errors"][0]["field"] == field, body
        await pay(app, client, invoice_id=inv["id"], amount="50.00")
        r = await pay(app, client, invoice_id=inv["id"], amount="1.00")
        assert r.status_code == 409  # paid: nothing open to allocate to
        assert (r.json()["type"], r.json()["invoice_status"]) == ("urn:tessera:problem:nothing-open", "paid")
        assert await count(app, Payment) == 1

    @pytest.mark.sqlite
    async def test_credit_applies_to_open_invoices_only(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        cid = uuid.uuid4()
        paid = await issued_invoice(app, client, cid, "100.00")
        open_one = await issued_invoice(app, client, cid, "50.00")
        r = await pay(app, client, invoice_id=paid["id"], amount="120.00")
        assert r.json()["unallocated"] == "20.00"  # kept as the customer's credit
        url = f"/v1/invoices/{open_one['id']}/apply-credit"
        assert (await client.post(url, headers=finance(app))).status_code == 403
        r = await client.post(url, headers=clerk(app))
        assert r.status_code == 200, r.text
        assert (r.json()["amount_paid"], r.json()["balance_due"], r.json()["status"]) == (
            "20.00",
            "30.00",
            "partially_paid",
        )
        r = await client.post(f"/v1/invoices/{paid['id']}/apply-credit", headers=clerk(app))
        assert r.status_code == 409 and r.headers["content-type"] == PROBLEM
        problem = r.json()
        assert problem["type"] == "urn:tessera:problem:invoice-not-open"
        assert (problem["current"], problem["allowed_statuses"]) == ("paid", ["issued", "overdue", "partially_paid"])
        assert "current_status" not in problem
        assert (await client.post(f"/v1/invoices/{uuid.uuid4()}/apply-credit", headers=clerk(app))).status_code == 404

    async def test_auth(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        body = {"customer_id": str(uuid.uuid4()), "amount": "1", "currency": "EUR"}
        assert (await client.post("/v1/payments", json=body)).status_code == 401
        assert (await client.post("/v1/payments", json=body, headers=finance(app))).status_code == 403
        assert (await client.get("/v1/payments", headers=bearer(app, "r", "sales_rep"))).status_code == 403
        assert (await client.get(f"/v1/payments/{uuid.uuid4()}", headers=finance(app))).status_code == 404


class TestReadPayments:
    @pytest.mark.sqlite
    async def test_list_by_customer_and_get(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        cid = uuid.uuid4()
        inv = await issued_invoice(app, client, cid, "40.00")
        made = (await pay(app, client, invoice_id=inv["id"], amount="40.00")).json()
        await pay(app, client, customer_id=uuid.uuid4(), amount="5.00")
        page = (await client.get("/v1/payments", params={"customer_id": str(cid)}, headers=finance(app))).json()
        assert [p["id"] for p in page["items"]] == [made["id"]]
        r = await client.get(f"/v1/payments/{made['id']}", headers=finance(app))
        assert r.json() == made and r.headers["etag"]


class TestCreditProfile:
    async def test_patch_needs_finance_and_if_match(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        cid = uuid.uuid4()
        await deliver(app, customer_created(cid), cid)
        url = f"/v1/credit/{cid}"
        etag = (await client.get(url, headers=clerk(app))).headers["etag"]
        assert (await client.patch(url, json={"credit_limit": "1"})).status_code == 401
        # Changing a limit is not the clerk's (nor sales') permission.
        assert (await client.patch(url, json={"credit_limit": "1"}, headers=clerk(app))).status_code == 403
        r = await client.patch(
            url, json={"credit_limit": "20000", "rating": "A"}, headers={**finance(app), "If-Match": etag}
        )
        assert r.status_code == 200
        assert (r.json()["credit_limit"], r.json()["rating"], r.json()["version"]) == ("20000.00", "A", 2)
        assert (
            await client.patch(url, json={"rating": "C"}, headers={**finance(app), "If-Match": etag})
        ).status_code == 412
        r = await client.patch(url, json={"rating": "E", "credit_limit": None}, headers=finance(app))
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "rating"
        r = await client.patch(url, json={"credit_limit": None}, headers=finance(app))
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "credit_limit"
        assert (await client.patch(f"/v1/credit/{uuid.uuid4()}", json={}, headers=finance(app))).status_code == 404

    async def test_check_against_exposure(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        cid = uuid.uuid4()
        await deliver(app, customer_created(cid), cid)  # limit 5000.00 EUR in these tests
        inv = await issued_invoice(app, client, cid, "3000.00")
        await pay(app, client, invoice_id=inv["id"], amount="500.00")
        url = f"/v1/credit/{cid}/check"
        r = await client.post(url, json={"amount": "2500.00", "currency": "EUR"}, headers=bearer(app, "r", "sales_rep"))
        assert r.status_code == 200
        assert (r.json()["fits"], r.json()["exposure"], r.json()["headroom"]) == (True, "2500.00", "2500.00")
        r = await client.post(url, json={"amount": "2500.01", "currency": "EUR"}, headers=clerk(app))
        assert r.json()["fits"] is False
        # Another currency: converted with the rate table, by the win's rule (docs/domain.md §10.1).
        r = await client.post(url, json={"amount": "100.00", "currency": "USD"}, headers=clerk(app))
        assert r.status_code == 409 and r.json()["type"] == "urn:tessera:problem:no-exchange-rate"
        assert (r.json()["from_currency"], r.json()["to_currency"]) == ("USD", "EUR")
        r = await client.put("/v1/exchange-rates/USD/EUR", json={"rate": "0.9"}, headers=finance(app))
        assert r.status_code == 200, r.text
        r = await client.post(url, json={"amount": "100.00", "currency": "USD"}, headers=clerk(app))
        assert r.status_code == 200, r.text
        got = r.json()
        assert (got["requested_amount"], got["exchange_rate"], got["currency"], got["fits"]) == (
            "90.00",
            "0.9",
            "EUR",
            True,
        )
        # Open receivables in another currency count too, converted.
        await issued_invoice(app, client, cid, "1000.00", currency="USD")
        r = await client.post(url, json={"amount": "1500.00", "currency": "EUR"}, headers=clerk(app))
        assert (r.json()["exposure"], r.json()["headroom"], r.json()["fits"]) == ("3400.00", "1600.00", True)
        r = await client.post(url, json={"amount": "1600.01", "currency": "EUR"}, headers=clerk(app))
        assert r.json()["fits"] is False and r.json()["exchange_rate"] is None
        assert (await client.post(url, json={"amount": "1", "currency": "EUR"})).status_code == 401
        r = await client.post(url, json={"amount": "1", "currency": "EUR"}, headers=bearer(app, "a", "support_agent"))
        assert r.status_code == 403
        r = await client.post(
            f"/v1/credit/{uuid.uuid4()}/check", json={"amount": "1", "currency": "EUR"}, headers=clerk(app)
        )
        assert r.status_code == 404
