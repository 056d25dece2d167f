"""Invoices by hand and from deal.won: totals, drafts and issue, numbering, the status machine."""

from __future__ import annotations

import asyncio
import uuid
from datetime import date
from decimal import Decimal

import httpx
import orjson
import pytest
from billing_helpers import (
    PROBLEM,
    clerk,
    count,
    customer_created,
    deal_won,
    deliver,
    events,
    finance,
    invoice_payload,
    issued_invoice,
    make_app,
    pay,
)
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlmodel import col

from tessera_billing.invoices.models import Invoice, InvoiceCounter
from tessera_billing.invoices.service import LineSpec, create_invoice, issue_invoice
from tessera_billing.ledger.models import LedgerEntry
from tessera_billing.ledger.receivables import BALANCES, TOTALS
from tessera_shared.db import unit_of_work
from tessera_shared.events import build_event
from tessera_shared.events.contracts import CreditCheck, LineItem
from tessera_shared.infra_tables import outbox
from tessera_shared.testing.plugin import bearer, running
from tessera_shared.trace_context import new_traceparent


class TestCreateInvoice:
    async def test_draft_with_exact_totals_and_terms_from_profile(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        cid = uuid.uuid4()
        await deliver(app, customer_created(cid, "Acme"), cid)
        body = invoice_payload(
            cid,
            issue_date="2026-03-01",
            lines=[
                {
                    "description": "A",
                    "quantity": "3",
                    "unit_price": "19.99",
                    "discount_percent": "10",
                    "tax_rate_percent": "19",
                },
                {"description": "B", "quantity": "1", "unit_price": "0.005"},
            ],
        )
        r = await client.post("/v1/invoices", json=body, headers=clerk(app))
        assert r.status_code == 201, r.text
        inv = r.json()
        assert (inv["status"], inv["number"], inv["customer_name"]) == ("draft", None, "Acme")
        assert (inv["subtotal"], inv["tax_total"], inv["total"]) == ("53.98", "10.25", "64.23")
        assert (inv["payment_terms_days"], inv["due_date"]) == (30, "2026-03-31")
        assert [line["total"] for line in inv["lines"]] == ["64.22", "0.01"]
        assert r.headers["location"] == f"/v1/invoices/{inv['id']}"
        # A draft is not announced (the profile's own announcement, credit.exposure_changed, is).
        assert [e["_type"] for e in await events(app)] == ["credit.exposure_changed"]

    async def test_issue_at_once_announces(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        inv = await issued_invoice(app, client, uuid.uuid4(), "250.00")
        assert inv["status"] == "issued" and inv["number"].startswith("INV-2026-")
        issued = await events(app, "invoice.issued")
        assert [(e["invoice_id"], e["total"]) for e in issued] == [(inv["id"], "250.00")]

    async def test_auth(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        body = invoice_payload(uuid.uuid4())
        assert (await client.post("/v1/invoices", json=body)).status_code == 401
        # Issuing is the clerk's duty, not finance's nor sales'.
        for role in ("finance_manager", "sales_rep"):
            r = await client.post("/v1/invoices", json=body, headers=bearer(app, "x", role))
            assert r.status_code == 403
        assert await count(app, Invoice) == 0

    async def test_bad_input_names_field(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        body = invoice_payload(
            uuid.uuid4(), currency="euro", lines=[{"description": "x", "quantity": "0", "unit_price": "1"}], colour=1
        )
        r = await client.post("/v1/invoices", json=body, headers=clerk(app))
        assert r.status_code == 422 and r.headers["content-type"] == PROBLEM
        assert {e["field"] for e in r.json()["errors"]} == {"currency", "lines.0.quantity", "colour"}
        r = await client.post("/v1/invoices", json=invoice_payload(uuid.uuid4(), lines=[]), headers=clerk(app))
        assert r.status_code == 422
        assert await count(app, Invoice) == 0

    async def test_idempotency_key(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        headers = {**clerk(app), "Idempotency-Key": "inv-1"}
        body = invoice_payload(uuid.uuid4(), issue=True)
        first = await client.post("/v1/invoices", json=body, headers=headers)
        second = await client.post("/v1/invoices", json=body, headers=headers)
        assert second.json() == first.json() and second.headers["idempotent-replayed"] == "true"
        assert await count(app, Invoice) == 1


class TestReadInvoices:
    async def test_get_with_lines_and_etag(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        inv = await issued_invoice(app, client, uuid.uuid4())
        r = await client.get(f"/v1/invoices/{inv['id']}", headers=bearer(app, "rep", "sales_rep"))
        assert r.status_code == 200 and r.json() == inv
        assert r.headers["etag"] == f'"{inv["id"]}.{inv["version"]}"'

    async def test_get_auth_and_404(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        assert (await client.get(f"/v1/invoices/{uuid.uuid4()}")).status_code == 401
        r = await client.get(f"/v1/invoices/{uuid.uuid4()}", headers=bearer(app, "p", "partner", kind="client"))
        assert r.status_code == 403
        assert (await client.get(f"/v1/invoices/{uuid.uuid4()}", headers=clerk(app))).status_code == 404
        assert (await client.get("/v1/invoices/nope", headers=clerk(app))).status_code == 422

    async def test_list_filters_and_cursor(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        cid = uuid.uuid4()
        ids = [(await issued_invoice(app, client, cid))["id"] for _ in range(3)]
        draft = (await client.post("/v1/invoices", json=invoice_payload(cid), headers=clerk(app))).json()
        await issued_invoice(app, client, uuid.uuid4())
        seen, cursor = [], None
        while True:
            params: dict[str, str | int] = {"customer_id": str(cid), "status": "issued", "limit": 2}
            if cursor:
                params["cursor"] = cursor
            page = (await client.get("/v1/invoices", params=params, headers=clerk(app))).json()
            seen += [i["id"] for i in page["items"]]
            if not (cursor := page["next_cursor"]):
                break
        assert sorted(seen) == sorted(ids) and draft["id"] not in seen
        r = await client.get("/v1/invoices", params={"status": "lost"}, headers=clerk(app))
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "status"


class TestIssueAndVoid:
    @pytest.mark.sqlite
    async def test_issue_draft_then_conflict(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        draft = (await client.post("/v1/invoices", json=invoice_payload(uuid.uuid4()), headers=clerk(app))).json()
        url = f"/v1/invoices/{draft['id']}/issue"
        assert (await client.post(url, headers=finance(app))).status_code == 403
        r = await client.post(url, headers={**clerk(app), "If-Match": '"stale.0"'})
        assert r.status_code == 412
        r = await client.post(url, json={"issue_date": "2026-02-01"}, headers=clerk(app))
        assert r.status_code == 200, r.text
        assert (r.json()["status"], r.json()["due_date"]) == ("issued", "2026-03-03")
        again = await client.post(url, headers=clerk(app))
        assert again.status_code == 409 and again.headers["content-type"] == PROBLEM
        problem = again.json()
        assert problem["type"] == "urn:tessera:problem:invalid-transition"
        assert (problem["current"], problem["requested"]) == ("issued", "issued")
        assert problem["allowed"] == ["partially_paid", "paid", "overdue", "written_off", "void"]
        assert problem["detail"] == "an invoice in status issued cannot become issued"
        assert not {"allowed_transitions", "current_status", "requested_status"} & set(problem)
        assert (await client.post(f"/v1/invoices/{uuid.uuid4()}/issue", headers=clerk(app))).status_code == 404

    async def test_void_unpaid_but_not_paid(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        cid = uuid.uuid4()
        unpaid = await issued_invoice(app, client, cid)
        r = await client.post(f"/v1/invoices/{unpaid['id']}/void", headers=finance(app))
        assert r.status_code == 200 and (r.json()["status"], r.json()["balance_due"]) == ("void", "0.00")
        part = await issued_invoice(app, client, cid)
        assert (await pay(app, client, invoice_id=part["id"], amount="10.00")).status_code == 201
        r = await client.post(f"/v1/invoices/{part['id']}/void", headers=clerk(app))
        assert r.status_code == 409
        problem = r.json()
        # Partially paid may be voided only when the money on it was loyalty points (§10.5).
        assert problem["type"] == "urn:tessera:problem:invoice-has-payments"
        assert (
            await client.post(f"/v1/invoices/{part['id']}/void", headers=bearer(app, "r", "sales_rep"))
        ).status_code == 403


class TestDealWon:
    async def test_one_invoice_per_deal_from_its_lines(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        cid, deal_id = uuid.uuid4(), uuid.uuid4()
        items = [
            LineItem(
                description="Seat",
                quantity=Decimal(10),
                unit_price=Decimal("12.50"),
                discount_percent=Decimal(20),
                tax_rate_percent=Decimal(7),
            )
        ]
        won = deal_won(cid, deal_id=deal_id, items=items, payment_terms_days=14)
        await deliver(app, won, cid)  # before its customer.created: parked, no invoice (§10.2)
        await deliver(app, won, cid)  # re-announced under a new event id: still one parked win
        r = await client.get("/v1/invoices", params={"deal_id": str(deal_id)}, headers=clerk(app))
        assert r.json()["items"] == []
        await deliver(app, customer_created(cid), cid)  # the customer arrives: its parked win is invoiced
        await deliver(app, customer_created(cid), cid)  # a redelivery finds the park empty
        await deliver(app, won, cid)  # re-announced once invoiced: nothing more
        r = await client.get("/v1/invoices", params={"deal_id": str(deal_id)}, headers=clerk(app))
        [inv] = r.json()["items"]
        assert (inv["status"], inv["total"], inv["issue_date"], inv["due_date"]) == (
            "issued",
            "107.00",
            "2026-03-01",
            "2026-03-15",
        )
        assert len(await events(app, "invoice.issued")) == 1

    async def test_a_run_of_wins_is_applied_as_one_at_a_time_would_be(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        """The consumer hands a run of deal.won over at once: each win is invoiced once (a repeat in
        the run, a deal invoiced before, an unknown customer's win parked), each invoice.issued under
        its own event's trace, one exposure announcement per invoice with the run's receivables."""
        a, b, unknown = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
        for cid in (a, b):
            await deliver(app, customer_created(cid), cid)
        fits = CreditCheck(
            credit_limit=Decimal("5000.00"), exposure=Decimal(0), amount=Decimal("238.00"), currency="EUR", fits=True
        )
        before = deal_won(a).model_copy(update={"credit_check": fits})
        await deliver(app, before, a)
        first, second = (deal_won(a).model_copy(update={"credit_check": fits}) for _ in range(2))
        wins = [(first, a), (before, a), (deal_won(b), b), (first, a), (deal_won(unknown), unknown), (second, a)]
        run = [build_event(data, subject=cid, traceparent=new_traceparent()) for data, cid in wins]
        async with unit_of_work(app.state.runtime.sessions) as session:
            await app.state.runtime.spec.handlers["deal.won"].many(session, [(e, e.typed_data()) for e in run])

        async with app.state.runtime.sessions() as s:
            invoiced = dict((await s.execute(select(col(Invoice.deal_id), col(Invoice.number)))).all())
            outbox_rows = (await s.execute(select(outbox.c.envelope).order_by(outbox.c.seq))).scalars().all()
        assert set(invoiced) == {before.deal_id, first.deal_id, second.deal_id, wins[2][0].deal_id}
        # Numbers reserved for the run in one statement: gap-free, none left over (the counter is at the last one).
        assert sorted(invoiced.values()) == [f"INV-2026-{n:06d}" for n in range(1, 5)]
        async with app.state.runtime.sessions() as s:
            assert await s.scalar(select(col(InvoiceCounter.last_number)).where(col(InvoiceCounter.year) == 2026)) == 4
        envelopes = [orjson.loads(e) for e in outbox_rows]
        trace_of: dict[str, str] = {}
        for e, (data, _) in zip(run, wins, strict=True):
            trace_of.setdefault(str(data.deal_id), str(e.traceparent)[3:35])  # a repeat applies nothing
        issued = [e for e in envelopes if e["type"] == "invoice.issued"][1:]  # the run's, after ``before``'s
        assert [e["data"]["deal_id"] for e in issued] == [
            str(first.deal_id),
            str(wins[2][0].deal_id),
            str(second.deal_id),
        ]
        assert all(e["traceparent"][3:35] == trace_of[e["data"]["deal_id"]] for e in issued)
        exposures = [
            e for e in envelopes if e["type"] == "credit.exposure_changed" and e["data"]["reason"] == "invoice_issued"
        ][1:]
        assert [e["data"]["deal_id"] for e in exposures] == [e["data"]["deal_id"] for e in issued]
        assert all(e["traceparent"][3:35] == trace_of[e["data"]["deal_id"]] for e in exposures)
        of_a = [e["data"]["exposure"] for e in exposures if e["data"]["customer_id"] == str(a)]
        assert of_a == ["714.00", "714.00"]  # three invoices of 238.00 as the run left them
        r = await client.get("/v1/invoices", params={"customer_id": str(unknown)}, headers=clerk(app))
        assert r.json()["items"] == []  # parked until its customer.created
        # The receivables the run moved at once (summed per row) are the ledger's sums, as one by one.
        e = LedgerEntry
        async with app.state.runtime.sessions() as s:
            per_row = select(col(e.customer_id), col(e.currency), col(e.due_date), func.sum(col(e.amount)))
            ledger = (await s.execute(per_row.group_by(col(e.customer_id), col(e.currency), col(e.due_date)))).all()
            per_total = select(col(e.currency), col(e.due_date), func.sum(col(e.amount)))
            ledger_totals = (await s.execute(per_total.group_by(col(e.currency), col(e.due_date)))).all()
            balances = (
                await s.execute(select(*(BALANCES.c[n] for n in ("customer_id", "currency", "due_date", "amount"))))
            ).all()
            totals = (await s.execute(select(TOTALS.c.currency, TOTALS.c.due_date, TOTALS.c.amount))).all()
        assert sorted(map(tuple, balances)) == sorted((c, cur, due, a) for c, cur, due, a in ledger if a != 0)
        assert sorted(map(tuple, totals)) == sorted(map(tuple, ledger_totals))
        assert len(balances) == 2  # a's and b's

    async def test_draft_policy_and_limit_exceeded(self, databases, backend: str) -> None:
        app = await make_app(
            databases, backend, issue_invoices_from_deals=False, default_credit_limit=Decimal("300.00")
        )
        async with running(app) as client:
            cid = uuid.uuid4()
            await issued_invoice(app, client, cid, "200.00")
            await deliver(app, deal_won(cid), cid)  # 238.00 on top of 200.00 exposure
            r = await client.get(
                "/v1/invoices", params={"customer_id": str(cid), "status": "draft"}, headers=clerk(app)
            )
            assert len(r.json()["items"]) == 1  # still created, left as a draft by policy
            [flag] = await events(app, "credit.limit_exceeded")
            assert (flag["exposure"], flag["requested_amount"], flag["credit_limit"]) == ("200.00", "238.00", "300.00")


async def test_numbers_are_gap_free_under_concurrent_issuers(databases) -> None:
    app = await make_app(databases, "postgres")
    async with running(app):
        sessions = app.state.runtime.sessions
        settings = app.state.settings

        async def issue_one(n: int) -> None:
            async with unit_of_work(sessions) as session:
                invoice = await create_invoice(
                    session,
                    settings,
                    customer_id=uuid.uuid4(),
                    currency="EUR",
                    issue_date=date(2026, 5, 1),
                    lines=[LineSpec("x", Decimal(1), Decimal(10))],
                    payment_terms_days=30,
                    created_by="t",
                )
                await issue_invoice(session, settings, invoice)
                if n % 5 == 0:
                    raise RuntimeError("rolled back: its number must be given back")

        results = await asyncio.gather(*(issue_one(n) for n in range(20)), return_exceptions=True)
        assert sum(isinstance(r, RuntimeError) for r in results) == 4
        async with sessions() as s:
            numbers = sorted(
                (await s.execute(select(col(Invoice.number)).where(col(Invoice.number).is_not(None)))).scalars()
            )
            last = await s.scalar(select(col(InvoiceCounter.last_number)).where(col(InvoiceCounter.year) == 2026))
        assert numbers == [f"INV-2026-{n:06d}" for n in range(1, 17)]
        assert last == 16


async def test_the_document_names_the_problems_each_operation_answers(app: FastAPI) -> None:
    """Derived from the domain errors the code can raise: no more, no fewer."""
    paths = app.openapi()["paths"]

    def described(path: str, status: str) -> str:
        return paths[path]["post"]["responses"].get(status, {}).get("description", "")

    assert "409" not in paths["/v1/invoices"]["post"]["responses"]  # a new draft may always be issued
    assert "`invalid-transition`" in described("/v1/invoices/{invoice_id}/issue", "409")
    void = described("/v1/invoices/{invoice_id}/void", "409")
    assert "`invalid-transition`" in void and "`invoice-has-payments`" in void
    assert described("/v1/invoices/{invoice_id}/apply-credit", "409").endswith(": `invoice-not-open`")
    assert described("/v1/payments", "409").endswith(": `nothing-open`")
    assert described("/v1/write-offs", "409").endswith(": `write-off-conflict`")
    for decision in ("approve", "reject"):
        assert "`invalid-transition`" in described(f"/v1/write-offs/{{write_off_id}}/{decision}", "409")
        assert "`segregation-of-duties`" in described(f"/v1/write-offs/{{write_off_id}}/{decision}", "403")
