"""Two-person write-offs with recovery as a payment; customer.merged and customer.erased."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import httpx
import pytest
from billing_helpers import clerk, customer_created, deal_won, deliver, events, finance, issued_invoice, pay
from fastapi import FastAPI

from tessera_shared.events.contracts import CustomerErased, CustomerMerged
from tessera_shared.testing.plugin import bearer


async def request(app: FastAPI, client: httpx.AsyncClient, invoice_id: str, who: str = "clerk") -> httpx.Response:
    return await client.post(
        "/v1/write-offs",
        json={"invoice_id": invoice_id, "reason": "insolvent"},
        headers=bearer(app, who, "billing_clerk"),
    )


class TestWriteOffs:
    async def test_request_approve_and_recover(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        cid = uuid.uuid4()
        inv = await issued_invoice(app, client, cid, "100.00")
        await pay(app, client, invoice_id=inv["id"], amount="30.00")
        r = await request(app, client, inv["id"])
        assert r.status_code == 201 and (r.json()["status"], r.json()["amount"]) == ("requested", "70.00")
        wo = r.json()
        # The request is announced (the finance managers are told of it by the notifications service).
        [asked] = await events(app, "write_off.requested")
        assert (asked["write_off_id"], asked["invoice_id"], asked["customer_id"]) == (wo["id"], inv["id"], str(cid))
        assert (asked["amount"], asked["currency"], asked["requested_by"]) == ("70.00", inv["currency"], "clerk")
        r = await request(app, client, inv["id"])
        assert r.status_code == 409  # one pending request per invoice
        assert len(await events(app, "write_off.requested")) == 1  # a refused request announces nothing
        assert r.json()["type"] == "urn:tessera:problem:write-off-conflict"
        assert r.json()["pending_write_off_id"] == wo["id"]
        url = f"/v1/write-offs/{wo['id']}/approve"
        assert (await client.post(url, headers=clerk(app))).status_code == 403
        r = await client.post(url, headers=bearer(app, "clerk", "finance_manager", "billing_clerk"))
        assert r.status_code == 403 and r.json()["type"].endswith("segregation-of-duties")
        r = await client.post(url, json={"note": "ok"}, headers=finance(app, "fin"))
        assert r.status_code == 200 and (r.json()["status"], r.json()["decided_by"]) == ("approved", "fin")
        r = await client.post(url, headers=finance(app, "fin"))
        assert r.status_code == 409
        problem = r.json()
        assert problem["type"] == "urn:tessera:problem:invalid-transition"
        assert (problem["current"], problem["requested"], problem["allowed"]) == ("approved", "approved", [])
        assert problem["detail"] == "the write-off is already approved"
        assert not {"allowed_transitions", "current_status"} & set(problem)
        after = (await client.get(f"/v1/invoices/{inv['id']}", headers=clerk(app))).json()
        assert (after["status"], after["balance_due"], after["amount_written_off"]) == ("written_off", "0.00", "70.00")
        [fact] = await events(app, "invoice.written_off")
        assert (fact["amount"], fact["requested_by"], fact["approved_by"]) == ("70.00", "clerk", "fin")
        # A later recovery is a payment; the invoice stays on record as written off.
        r = await pay(
            app, client, invoice_id=inv["id"], amount="50.00", received_on=datetime.now(UTC).date().isoformat()
        )
        assert r.status_code == 201 and r.json()["unallocated"] == "0.00"
        after = (await client.get(f"/v1/invoices/{inv['id']}", headers=clerk(app))).json()
        assert (after["status"], after["amount_written_off"], after["amount_paid"]) == ("written_off", "20.00", "80.00")
        month = datetime.now(UTC).strftime("%Y-%m")
        [line] = (await client.get("/v1/reports/rollforward", params={"month": month}, headers=finance(app))).json()[
            "currencies"
        ]
        assert line["written_off"] == "20.00" and line["closing"] == "0.00"

    @pytest.mark.sqlite
    async def test_reject_list_and_refusals(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        inv = await issued_invoice(app, client, uuid.uuid4())
        wo = (await request(app, client, inv["id"])).json()
        r = await client.post(f"/v1/write-offs/{wo['id']}/reject", json={"note": "chase"}, headers=finance(app))
        assert r.json()["status"] == "rejected"
        r = await client.post(f"/v1/write-offs/{wo['id']}/approve", headers=finance(app))
        assert r.status_code == 409
        problem = r.json()
        assert problem["type"] == "urn:tessera:problem:invalid-transition"
        assert (problem["current"], problem["requested"], problem["allowed"]) == ("rejected", "approved", [])
        page = (await client.get("/v1/write-offs", params={"status": "rejected"}, headers=finance(app))).json()
        assert [w["id"] for w in page["items"]] == [wo["id"]]
        assert (await client.get(f"/v1/write-offs/{wo['id']}", headers=clerk(app))).headers["etag"]
        assert (await client.get(f"/v1/write-offs/{uuid.uuid4()}", headers=clerk(app))).status_code == 404
        assert (await client.get("/v1/write-offs")).status_code == 401
        assert (await client.get("/v1/write-offs", headers=bearer(app, "r", "sales_rep"))).status_code == 403
        r = await request(app, client, str(uuid.uuid4()))
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "invoice_id"
        await pay(app, client, invoice_id=inv["id"], amount="100.00")
        r = await request(app, client, inv["id"])
        assert r.status_code == 409  # paid: nothing to write off
        assert r.json()["type"] == "urn:tessera:problem:write-off-conflict"
        assert (r.json()["invoice_status"], r.json()["allowed_statuses"]) == (
            "paid",
            ["issued", "overdue", "partially_paid"],
        )
        r = await client.post("/v1/write-offs", json={"invoice_id": inv["id"]}, headers=clerk(app))
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "reason"


class TestCustomerEvents:
    @pytest.mark.sqlite
    async def test_merge_repoints_and_folds_credit(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        survivor, merged = uuid.uuid4(), uuid.uuid4()
        await deliver(app, customer_created(survivor), survivor)
        await deliver(app, customer_created(merged), merged)
        await client.patch(f"/v1/credit/{merged}", json={"rating": "D"}, headers=finance(app))
        inv = await issued_invoice(app, client, merged)
        await pay(app, client, customer_id=merged, amount="130.00")
        event = CustomerMerged(survivor_id=survivor, merged_id=merged, actor="admin", merged_at=datetime.now(UTC))
        await deliver(app, event, survivor)
        await deliver(app, event, survivor)  # re-announced: no further effect
        moved = (await client.get(f"/v1/invoices/{inv['id']}", headers=clerk(app))).json()
        assert moved["customer_id"] == str(survivor)
        payments = (
            await client.get("/v1/payments", params={"customer_id": str(survivor)}, headers=finance(app))
        ).json()
        assert len(payments["items"]) == 1
        assert (await client.get(f"/v1/credit/{merged}", headers=clerk(app))).status_code == 404
        assert (await client.get(f"/v1/credit/{survivor}", headers=clerk(app))).json()["rating"] == "D"
        r = await client.get(
            "/v1/reports/statement",
            params={"customer_id": str(survivor), "currency": "EUR", "from": "2026-01-01", "to": "2026-12-31"},
            headers=finance(app),
        )
        assert r.json()["credit_balance"] == "30.00"

    async def test_erase_keeps_amounts_and_drops_names(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        cid = uuid.uuid4()
        await deliver(app, customer_created(cid, "Jane Doe"), cid)
        await deliver(app, deal_won(cid), cid)
        [inv] = (await client.get("/v1/invoices", params={"customer_id": str(cid)}, headers=clerk(app))).json()["items"]
        await pay(app, client, invoice_id=inv["id"], amount="10.00", reference="Jane Doe IBAN DE00")
        await deliver(app, CustomerErased(customer_id=cid, requested_by="dpo", erased_at=datetime.now(UTC)), cid)
        after = (await client.get(f"/v1/invoices/{inv['id']}", headers=clerk(app))).json()
        assert (after["customer_name"], after["total"], after["amount_paid"]) == (None, "238.00", "10.00")
        assert (await client.get(f"/v1/credit/{cid}", headers=clerk(app))).json()["customer_name"] is None
        payments = (await client.get("/v1/payments", params={"customer_id": str(cid)}, headers=finance(app))).json()
        assert payments["items"][0]["reference"] is None
