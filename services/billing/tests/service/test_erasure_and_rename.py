"""Billing's part of §10.3 and §10.6 (docs/domain.md): erasure takes invoice notes, line texts and
write-off reasons with the printed names, amounts stay; a renamed customer's new invoices print
the new name, issued ones keep the old."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import httpx
import pytest
from billing_helpers import clerk, customer_created, deliver, invoice_payload, issued_invoice
from fastapi import FastAPI
from sqlalchemy import select

from tessera_billing.invoices.models import InvoiceLine
from tessera_shared.events.contracts import CustomerErased, CustomerUpdated
from tessera_shared.infra_tables import outbox
from tessera_shared.testing.plugin import bearer

NOW = datetime(2026, 4, 1, tzinfo=UTC)
SECRET = "Alan Turing's secret"


@pytest.mark.sqlite
async def test_erasure_takes_notes_lines_and_write_off_reasons(app: FastAPI, client: httpx.AsyncClient) -> None:
    cid = uuid.uuid4()
    await deliver(app, customer_created(cid, SECRET), cid)
    body = invoice_payload(
        cid,
        issue=True,
        note=f"Call {SECRET} first",
        lines=[{"description": f"Work for {SECRET}", "quantity": "1", "unit_price": "100.00"}],
    )
    r = await client.post("/v1/invoices", json=body, headers=clerk(app))
    assert r.status_code == 201, r.text
    inv = r.json()
    r = await client.post(
        "/v1/write-offs", json={"invoice_id": inv["id"], "reason": f"{SECRET} is insolvent"}, headers=clerk(app)
    )
    assert r.status_code == 201, r.text
    wo = r.json()
    decision = {"note": f"{SECRET} agreed"}
    r = await client.post(
        f"/v1/write-offs/{wo['id']}/approve", json=decision, headers=bearer(app, "fm", "finance_manager")
    )
    assert r.status_code == 200, r.text
    async with app.state.runtime.sessions() as s, s.begin():
        await s.execute(outbox.update().values(sent_at=NOW))  # the relay has sent them

    await deliver(app, CustomerErased(customer_id=cid, requested_by="dpo", erased_at=NOW), cid)

    after = (await client.get(f"/v1/invoices/{inv['id']}", headers=clerk(app))).json()
    assert (after["customer_name"], after["note"], after["total"]) == (None, None, inv["total"])
    assert [line["description"] for line in after["lines"]] == ["[erased]"]
    wo = (await client.get(f"/v1/write-offs/{wo['id']}", headers=clerk(app))).json()
    assert (wo["reason"], wo["decision_note"], wo["amount"]) == ("[erased]", None, "100.00")
    async with app.state.runtime.sessions() as s:
        lines = (await s.scalars(select(InvoiceLine.description))).all()
        envelopes = (await s.scalars(select(outbox.c.envelope))).all()
    assert not any(SECRET in t for t in [*lines, *envelopes])


@pytest.mark.sqlite
async def test_a_new_invoice_after_a_rename_prints_the_new_name(app: FastAPI, client: httpx.AsyncClient) -> None:
    cid = uuid.uuid4()
    await deliver(app, customer_created(cid, "Acme GmbH"), cid)
    old = await issued_invoice(app, client, cid, "100.00")
    renamed = CustomerUpdated(
        customer_id=cid, changed_fields=["name"], name="Acme AG", owner_id="rep1", version=2, updated_at=NOW
    )
    await deliver(app, renamed, cid)
    stale = renamed.model_copy(update={"name": "Acme Old", "version": 1})
    await deliver(app, stale, cid)  # an older version arriving late loses
    new = await issued_invoice(app, client, cid, "50.00")
    assert (await client.get(f"/v1/credit/{cid}", headers=clerk(app))).json()["customer_name"] == "Acme AG"
    assert new["customer_name"] == "Acme AG"
    assert (await client.get(f"/v1/invoices/{old['id']}", headers=clerk(app))).json()["customer_name"] == "Acme GmbH"
