"""Known customers only (docs/domain.md §10.2) in billing: an invoice or a payment by customer names a
customer billing knows or the customer service confirms; a deal.won for a customer not announced
yet is parked until its customer.created, and one for an id nobody has stays without invoice."""

from __future__ import annotations

import uuid

import pytest
from billing_helpers import PROBLEM, clerk, count, customer_created, deal_won, deliver, invoice_payload, pay
from fastapi import FastAPI
from httpx import AsyncClient

from tessera_billing.invoices.models import Invoice
from tessera_billing.invoices.pending import PendingDealWon
from tessera_billing.known_customers.models import KnownCustomer
from tessera_billing.payments.models import Payment
from tessera_shared.testing.customers import open_transactions


class TestWrites:
    @pytest.mark.sqlite
    async def test_invoice_for_an_unseen_customer_reads_it_through(self, app: FastAPI, client: AsyncClient) -> None:
        stub = app.state.customer_directory
        cid = uuid.uuid4()
        stub.add(cid, "Ada Ltd")
        r = await client.post("/v1/invoices", json=invoice_payload(cid), headers=clerk(app))
        assert r.status_code == 201, r.text
        async with app.state.runtime.sessions() as s:
            row = await s.get(KnownCustomer, cid)
        assert row is not None and row.name == "Ada Ltd"

    async def test_no_such_customer_and_unreachable(self, app: FastAPI, client: AsyncClient) -> None:
        stub = app.state.customer_directory
        missing = uuid.uuid4()
        stub.missing.add(missing)
        r = await client.post("/v1/invoices", json=invoice_payload(missing), headers=clerk(app))
        assert (r.status_code, r.headers["content-type"]) == (422, PROBLEM)
        assert (r.json()["errors"][0]["field"], r.json()["errors"][0]["message"]) == ("customer_id", "no such customer")
        r = await pay(app, client, customer_id=missing, amount="10.00")
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "customer_id"
        stub.down = True
        r = await client.post("/v1/invoices", json=invoice_payload(uuid.uuid4()), headers=clerk(app))
        assert (r.status_code, r.headers["retry-after"]) == (503, "5")
        r = await pay(app, client, customer_id=uuid.uuid4(), amount="10.00")
        assert r.status_code == 503
        assert await count(app, Invoice) == 0 and await count(app, Payment) == 0


class TestDealWonParked:
    async def test_a_win_for_nobody_is_never_invoiced(self, app: FastAPI, client: AsyncClient) -> None:
        nobody = uuid.uuid4()
        await deliver(app, deal_won(nobody), nobody)
        assert await count(app, Invoice) == 0 and await count(app, PendingDealWon) == 1
        # Another customer's arrival does not release it.
        other = uuid.uuid4()
        await deliver(app, customer_created(other), other)
        assert await count(app, Invoice) == 0 and await count(app, PendingDealWon) == 1

    async def test_a_win_before_its_customer_is_invoiced_when_the_customer_arrives(
        self, app: FastAPI, client: AsyncClient
    ) -> None:
        cid = uuid.uuid4()
        first, second = deal_won(cid), deal_won(cid)
        await deliver(app, first, cid)
        await deliver(app, second, cid)
        assert await count(app, Invoice) == 0
        await deliver(app, customer_created(cid, "Grace plc"), cid)
        r = await client.get("/v1/invoices", params={"customer_id": str(cid)}, headers=clerk(app))
        assert {i["deal_id"] for i in r.json()["items"]} == {str(first.deal_id), str(second.deal_id)}
        assert {i["customer_name"] for i in r.json()["items"]} == {"Grace plc"}
        assert await count(app, PendingDealWon) == 0


class TestNoTransactionDuringTheReadThrough:
    """The read-through runs before the write's transaction opens: while the customer service is
    asked, no session of billing's database sits in a transaction (docs/domain.md §10.2)."""

    @pytest.mark.parametrize("write", ["invoice", "payment"])
    async def test_no_session_is_idle_in_transaction_while_the_customer_service_answers(
        self, app: FastAPI, client: AsyncClient, write: str
    ) -> None:
        stub = app.state.customer_directory
        seen: list[list[str]] = []

        async def probe(_: uuid.UUID) -> None:
            seen.append(await open_transactions(app.state.runtime.sessions))

        stub.while_answering = probe
        cid = uuid.uuid4()
        headers = {**clerk(app), "Idempotency-Key": str(uuid.uuid4())}
        if write == "invoice":
            r = await client.post("/v1/invoices", json=invoice_payload(cid), headers=headers)
        else:
            body = {"customer_id": str(cid), "amount": "10.00", "currency": "EUR", "received_on": "2026-03-10"}
            r = await client.post("/v1/payments", json=body, headers=headers)
        assert r.status_code == 201, r.text
        assert stub.reads == [cid] and seen == [[]]
