"""Overdue and dunning (job run on demand), disputes, ageing as of any day, roll-forward, DSO, statement."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

import httpx
import pytest
from billing_helpers import clerk, closed, deliver, dispute, events, finance, issued_invoice, make_app, pay, run
from fastapi import FastAPI

from tessera_billing.dunning.rules import goes_overdue, overdue_cutoff
from tessera_shared.testing.databases import DatabaseFactory
from tessera_shared.testing.plugin import bearer, running


class TestOverdueRun:
    async def test_overdue_once_from_due_date_then_each_step_once(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        cid = uuid.uuid4()
        inv = await issued_invoice(app, client, cid, issue_date=date(2026, 3, 1), terms=30)  # due 2026-03-31
        assert await run(app, client, "2026-03-31") == {"as_of": "2026-03-31", "marked_overdue": 0, "dunning_steps": 0}
        assert (await run(app, client, "2026-04-01"))["marked_overdue"] == 1
        assert (await run(app, client, "2026-04-01")) == {
            "as_of": "2026-04-01",
            "marked_overdue": 0,
            "dunning_steps": 0,
        }
        [overdue] = await events(app, "invoice.overdue")
        assert (overdue["invoice_id"], overdue["days_overdue"]) == (inv["id"], 1)
        [step1] = await events(app, "dunning.step")
        assert (step1["step"], step1["action"]) == (1, "reminder")
        await run(app, client, "2026-04-06")
        await run(app, client, "2026-04-07")
        await run(app, client, "2026-04-07")
        assert [e["step"] for e in await events(app, "dunning.step")] == [1, 2]
        # Payment stops dunning.
        await pay(app, client, invoice_id=inv["id"], amount="100.00", received_on="2026-04-08")
        await run(app, client, "2026-05-30")
        assert [e["step"] for e in await events(app, "dunning.step")] == [1, 2]

    async def test_dispute_pauses_until_closed(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        cid, ticket = uuid.uuid4(), uuid.uuid4()
        inv = await issued_invoice(app, client, cid, issue_date=date(2026, 3, 1), terms=30)
        await deliver(app, dispute(ticket, cid, inv["id"]), cid)
        await run(app, client, "2026-04-20")
        assert len(await events(app, "invoice.overdue")) == 1
        assert await events(app, "dunning.step") == []
        await deliver(app, closed(ticket, cid, inv["id"]), cid)
        await run(app, client, "2026-04-21")
        [step] = await events(app, "dunning.step")
        assert (step["step"], step["action"], step["days_overdue"]) == (3, "final_notice", 21)

    @pytest.mark.sqlite  # the cutoff compared in SQL on both databases
    @pytest.mark.parametrize("grace", [0, 3])
    async def test_the_job_runs_the_overdue_rule_at_its_boundaries(
        self, databases: DatabaseFactory, backend: str, grace: int
    ) -> None:
        """Due the day before the cutoff: overdue; on it or after: not yet; partially paid alike."""
        app = await make_app(databases, backend, overdue_grace_days=grace)
        as_of = date(2026, 5, 10)
        cutoff = overdue_cutoff(as_of, grace)
        dues = {
            "before": cutoff - timedelta(days=1),
            "at": cutoff,
            "after": cutoff + timedelta(days=1),
            "partial_before": cutoff - timedelta(days=1),
            "partial_at": cutoff,
        }
        async with running(app) as client:
            cid = uuid.uuid4()
            ids = {}
            for name, due in dues.items():
                inv = await issued_invoice(app, client, cid, issue_date=due - timedelta(days=30), terms=30)
                assert inv["due_date"] == due.isoformat()
                ids[name] = inv["id"]
                if name.startswith("partial"):
                    r = await pay(app, client, invoice_id=inv["id"], amount="10.00", received_on="2026-05-01")
                    assert r.status_code == 201, r.text
            before = {
                n: (await client.get(f"/v1/invoices/{i}", headers=clerk(app))).json()["status"] for n, i in ids.items()
            }
            assert before["partial_before"] == before["partial_at"] == "partially_paid"
            assert (await run(app, client, as_of.isoformat()))["marked_overdue"] == 2
            after = {
                n: (await client.get(f"/v1/invoices/{i}", headers=clerk(app))).json()["status"] for n, i in ids.items()
            }
        assert after == {
            "before": "overdue",
            "at": "issued",
            "after": "issued",
            "partial_before": "overdue",
            "partial_at": "partially_paid",
        }
        for name, due in dues.items():  # the job did what the named rule says, invoice by invoice
            assert (after[name] == "overdue") == goes_overdue(before[name], due, as_of, grace), name
        marked = await events(app, "invoice.overdue")
        assert sorted(e["invoice_id"] for e in marked) == sorted([ids["before"], ids["partial_before"]])
        assert {e["days_overdue"] for e in marked} == {grace + 1}

    async def test_auth_and_bad_date(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        assert (await client.post("/v1/invoices/overdue-run")).status_code == 401
        assert (await client.post("/v1/invoices/overdue-run", headers=finance(app))).status_code == 403
        r = await client.post("/v1/invoices/overdue-run", params={"as_of": "2026-13-01"}, headers=clerk(app))
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "as_of"


async def aging(app: FastAPI, client: httpx.AsyncClient, as_of: str, **params: str) -> dict:
    r = await client.get("/v1/reports/aging", params={"as_of": as_of, **params}, headers=finance(app))
    assert r.status_code == 200, r.text
    return r.json()


class TestAging:
    async def test_buckets_as_of_past_and_present(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        a, b = uuid.uuid4(), uuid.uuid4()
        await issued_invoice(app, client, a, "100.00", issue_date=date(2026, 1, 1), terms=30)  # due 01-31
        late = await issued_invoice(app, client, a, "40.00", issue_date=date(2026, 3, 1), terms=0)  # due 03-01
        await issued_invoice(app, client, b, "10.00", issue_date=date(2026, 3, 15), terms=30)  # due 04-14
        await pay(app, client, invoice_id=late["id"], amount="40.00", received_on="2026-03-20")
        report = await aging(app, client, "2026-03-10")
        [total] = report["totals"]
        # As of 03-10 the payment of 03-20 had not come: 01-31 is 38 days late, 03-01 is 9 days late.
        assert (total["current"], total["days_1_30"], total["days_31_60"], total["total"]) == (
            "0.00",
            "40.00",
            "100.00",
            "140.00",
        )
        assert [c["customer_id"] for c in report["customers"]] == [str(a)]
        now = await aging(app, client, "2026-05-01")
        assert (now["totals"][0]["days_61_90"], now["totals"][0]["days_1_30"], now["totals"][0]["total"]) == (
            "100.00",
            "10.00",
            "110.00",
        )
        page = await aging(app, client, "2026-05-01", limit="1")
        assert len(page["customers"]) == 1 and page["next_cursor"]
        rest = await aging(app, client, "2026-05-01", limit="1", cursor=page["next_cursor"])
        assert {page["customers"][0]["customer_id"], rest["customers"][0]["customer_id"]} == {str(a), str(b)}
        one = await aging(app, client, "2026-05-01", customer_id=str(b))
        assert one["totals"][0]["total"] == "10.00"

    async def test_auth(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        assert (await client.get("/v1/reports/aging")).status_code == 401
        assert (await client.get("/v1/reports/aging", headers=bearer(app, "r", "sales_rep"))).status_code == 403
        r = await client.get("/v1/reports/aging", params={"as_of": "x"}, headers=finance(app))
        assert r.status_code == 422


class TestRollforwardDsoStatement:
    @pytest.mark.sqlite
    async def test_closing_is_next_opening(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        cid = uuid.uuid4()
        first = await issued_invoice(app, client, cid, "300.00", issue_date=date(2026, 2, 10), terms=10)
        await issued_invoice(app, client, cid, "200.00", issue_date=date(2026, 3, 5))
        await pay(app, client, invoice_id=first["id"], amount="120.00", received_on="2026-03-02")
        months = {}
        for month in ("2026-02", "2026-03", "2026-04"):
            r = await client.get("/v1/reports/rollforward", params={"month": month}, headers=finance(app))
            assert r.status_code == 200, r.text
            [months[month]] = r.json()["currencies"]
        feb, mar, apr = months["2026-02"], months["2026-03"], months["2026-04"]
        assert (feb["opening"], feb["invoiced"], feb["closing"]) == ("0.00", "300.00", "300.00")
        assert (mar["opening"], mar["invoiced"], mar["collected"], mar["closing"]) == (
            "300.00",
            "200.00",
            "120.00",
            "380.00",
        )
        assert feb["closing"] == mar["opening"] and mar["closing"] == apr["opening"]
        r = await client.get("/v1/reports/rollforward", params={"month": "2026-13"}, headers=finance(app))
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "month"

    @pytest.mark.sqlite
    async def test_dso_and_statement(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        cid = uuid.uuid4()
        inv = await issued_invoice(app, client, cid, "900.00", issue_date=date(2026, 3, 1))
        await pay(app, client, invoice_id=inv["id"], amount="600.00", received_on="2026-03-20", reference="TX-9")
        r = await client.get("/v1/reports/dso", params={"as_of": "2026-03-31", "days": 31}, headers=finance(app))
        [line] = r.json()["currencies"]
        assert (line["receivables"], line["sales"], line["dso_days"]) == ("300.00", "900.00", "10.3")
        r = await client.get(
            "/v1/reports/statement",
            params={"customer_id": str(cid), "currency": "EUR", "from": "2026-03-10", "to": "2026-03-31"},
            headers=finance(app),
        )
        assert r.status_code == 200, r.text
        body = r.json()
        assert (body["opening_balance"], body["closing_balance"]) == ("900.00", "300.00")
        assert [(x["kind"], x["amount"], x["balance"]) for x in body["lines"]] == [("collected", "-600.00", "300.00")]
        r = await client.get(
            "/v1/reports/statement",
            params={"customer_id": str(cid), "currency": "EUR", "since": "2026-03-10", "until": "2026-03-01"},
            headers=finance(app),
        )
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "until"
