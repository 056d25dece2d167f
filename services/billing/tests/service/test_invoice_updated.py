"""invoice.updated (docs/domain.md §6.2): the changes to an invoice that no other invoice event
announces — a void, credit applied in part — publish exactly one invoice.updated naming the fields
that moved (new values), keyed by the customer; credit that settles the invoice in full is
invoice.paid alone."""

from __future__ import annotations

import uuid

import httpx
import pytest
from billing_helpers import clerk, events, finance, invoice_payload, issued_invoice, pay
from fastapi import FastAPI

pytestmark = pytest.mark.sqlite

INVOICE_EVENTS = ("invoice.updated", "invoice.paid", "invoice.issued")


async def invoice_events(app: FastAPI) -> list[dict]:
    return [e for e in await events(app) if e["_type"] in INVOICE_EVENTS]


async def test_a_void_is_one_invoice_updated(app: FastAPI, client: httpx.AsyncClient) -> None:
    cid = uuid.uuid4()
    issued = await issued_invoice(app, client, cid, "80.00")
    before = len(await invoice_events(app))
    r = await client.post(f"/v1/invoices/{issued['id']}/void", headers=finance(app))
    assert r.status_code == 200, r.text
    [event] = (await invoice_events(app))[before:]
    assert event["_type"] == "invoice.updated" and event["reason"] == "voided"
    assert event["changes"] == {"status": "void", "balance_due": "0.00"}
    assert (event["invoice_id"], event["customer_id"], event["number"]) == (issued["id"], str(cid), issued["number"])
    assert r.headers["etag"] == f'"{issued["id"]}.{event["version"]}"'


async def test_a_draft_voided_names_its_status_only(app: FastAPI, client: httpx.AsyncClient) -> None:
    r = await client.post("/v1/invoices", json=invoice_payload(uuid.uuid4()), headers=clerk(app))
    assert r.status_code == 201, r.text
    draft = r.json()
    r = await client.post(f"/v1/invoices/{draft['id']}/void", headers=finance(app))
    assert r.status_code == 200, r.text
    [event] = await invoice_events(app)
    # A draft's balance is its total until it is voided: the balance moves too; no number yet.
    assert event["changes"] == {"status": "void", "balance_due": "0.00"} and event["number"] is None


async def test_credit_in_part_is_one_invoice_updated(app: FastAPI, client: httpx.AsyncClient) -> None:
    cid = uuid.uuid4()
    paid = await issued_invoice(app, client, cid, "100.00")
    open_one = await issued_invoice(app, client, cid, "50.00")
    assert (await pay(app, client, invoice_id=paid["id"], amount="120.00")).json()["unallocated"] == "20.00"
    before = len(await invoice_events(app))
    r = await client.post(f"/v1/invoices/{open_one['id']}/apply-credit", headers=clerk(app))
    assert r.status_code == 200, r.text
    [event] = (await invoice_events(app))[before:]
    assert (event["_type"], event["reason"]) == ("invoice.updated", "credit_applied")
    assert event["changes"] == {"status": "partially_paid", "amount_paid": "20.00", "balance_due": "30.00"}
    # No credit left: nothing moves, nothing is announced.
    before = len(await invoice_events(app))
    r = await client.post(f"/v1/invoices/{open_one['id']}/apply-credit", headers=clerk(app))
    assert r.status_code == 200, r.text
    assert (await invoice_events(app))[before:] == []


async def test_credit_that_settles_in_full_is_invoice_paid_alone(app: FastAPI, client: httpx.AsyncClient) -> None:
    cid = uuid.uuid4()
    paid = await issued_invoice(app, client, cid, "100.00")
    open_one = await issued_invoice(app, client, cid, "50.00")
    assert (await pay(app, client, invoice_id=paid["id"], amount="160.00")).json()["unallocated"] == "60.00"
    before = len(await invoice_events(app))
    r = await client.post(f"/v1/invoices/{open_one['id']}/apply-credit", headers=clerk(app))
    assert r.status_code == 200 and r.json()["status"] == "paid", r.text
    assert [e["_type"] for e in (await invoice_events(app))[before:]] == ["invoice.paid"]
