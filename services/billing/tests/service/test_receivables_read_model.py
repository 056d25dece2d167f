"""The receivable read model equals the ledger after every kind of movement, and ageing read from
it equals ageing summed from the ledger, as of any day (random sequences, both databases); the
one-read receivables summary equals what the invoice, credit and ageing endpoints say."""

from __future__ import annotations

import random
import uuid
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import httpx
import pytest
from billing_helpers import clerk, deliver, finance, issued_invoice, pay
from fastapi import FastAPI
from sqlalchemy import select

from tessera_billing.ledger.models import LedgerEntry, ReceivableBalance, ReceivableTotal
from tessera_billing.reports import repository as repo
from tessera_billing.reports.rules import BUCKETS, bucket_by_due_date
from tessera_shared.db import read_session
from tessera_shared.events.contracts import CustomerErased, CustomerMerged
from tessera_shared.testing.plugin import bearer

# Dialect branches (SQL that differs on SQLite): the whole module runs on both databases.
pytestmark = pytest.mark.sqlite

START = date(2026, 1, 1)


async def ledger(app: FastAPI) -> list[LedgerEntry]:
    async with app.state.runtime.sessions() as s:
        return list((await s.execute(select(LedgerEntry))).scalars())


async def read_model(app: FastAPI) -> tuple[dict, dict]:
    async with app.state.runtime.sessions() as s:
        balances = {
            (r.customer_id, r.currency, r.due_date): r.amount
            for r in (await s.execute(select(ReceivableBalance))).scalars()
        }
        totals = {
            (r.currency, r.due_date): (r.amount, r.first_entry_date)
            for r in (await s.execute(select(ReceivableTotal))).scalars()
        }
    return balances, totals


def expected_model(entries: list[LedgerEntry]) -> tuple[dict, dict]:
    balances: dict = defaultdict(Decimal)
    totals: dict = {}
    for e in entries:
        balances[(e.customer_id, e.currency, e.due_date)] += e.amount
        amount, first = totals.get((e.currency, e.due_date), (Decimal(0), e.entry_date))
        totals[(e.currency, e.due_date)] = (amount + e.amount, min(first, e.entry_date))
    return {k: v for k, v in balances.items() if v != 0}, totals


def expected_aging(entries: list[LedgerEntry], as_of: date, currency: str | None) -> tuple[list, list]:
    """What the ledger says: buckets by due date over the entries up to ``as_of`` (the old query)."""
    totals: dict = {}
    customers: dict = {}
    for e in entries:
        if e.entry_date > as_of or currency not in (None, e.currency):
            continue
        bucket = bucket_by_due_date(e.due_date, as_of)
        for table, key in ((totals, e.currency), (customers, (e.customer_id, e.currency))):
            table.setdefault(key, dict.fromkeys(BUCKETS, Decimal(0)))[bucket] += e.amount
    by_customer = [(cid, cur, row) for (cid, cur), row in sorted(customers.items()) if sum(row.values()) != 0]
    return sorted(totals.items()), by_customer


async def actual_aging(app: FastAPI, as_of: date, currency: str | None, page: int) -> tuple[list, list]:
    async with read_session(app.state.runtime.sessions) as s:
        totals = await repo.aging_totals(s, as_of, None, currency)
        rows, after = [], None
        while True:  # walk the by-customer pages with the keyset cursor
            got = await repo.aging_by_customer(s, as_of, None, currency, page, after)
            rows += got
            if len(got) < page:
                break
            after = (got[-1]["customer_id"], got[-1]["currency"])
    return (
        [(t["currency"], {b: t[b] for b in BUCKETS}) for t in totals],
        [(r["customer_id"], r["currency"], {b: r[b] for b in BUCKETS}) for r in rows],
    )


async def random_movements(app: FastAPI, client: httpx.AsyncClient, rng: random.Random, steps: int) -> set[str]:
    """Issues, payments (to an invoice, to a customer, recoveries), write-offs, voids, merges and
    erasures in random order on random days; returns the kinds of movement that took effect."""
    customers = [uuid.uuid4() for _ in range(4)]
    invoices: list[str] = []
    done: set[str] = set()
    erased: set[uuid.UUID] = set()  # no new invoice names an erased customer (docs/domain.md §10.2)

    def day() -> str:
        return (START + timedelta(days=rng.randrange(150))).isoformat()

    for _ in range(steps):
        move = rng.choice(["issue"] * 4 + ["pay"] * 3 + ["pay_customer", "write_off", "void", "merge", "erase"])
        cid = rng.choice(customers)
        if move == "issue" or not invoices:
            live = [c for c in customers if c not in erased]
            if not live:
                continue
            inv = await issued_invoice(
                app,
                client,
                cid if cid not in erased else live[0],
                f"{rng.randrange(1, 500)}.{rng.randrange(100):02d}",
                issue_date=date.fromisoformat(day()),
                terms=rng.choice([0, 14, 30]),
                currency=rng.choice(["EUR", "USD"]),
            )
            invoices.append(inv["id"])
            done.add("issue")
            continue
        inv = (await client.get(f"/v1/invoices/{rng.choice(invoices)}", headers=clerk(app))).json()
        if move == "pay":  # partial, full, or a recovery after a write-off
            r = await pay(
                app,
                client,
                invoice_id=inv["id"],
                amount=f"{rng.randrange(1, 150)}.00",
                currency=inv["currency"],
                received_on=day(),
            )
            ok = r.status_code == 201
            move = "recovery" if inv["status"] == "written_off" else move
        elif move == "pay_customer":  # oldest first; what is left over is credit for later invoices
            r = await pay(app, client, customer_id=cid, amount=f"{rng.randrange(1, 900)}.00", received_on=day())
            ok = r.status_code == 201
        elif move == "write_off":
            r = await client.post(
                "/v1/write-offs", json={"invoice_id": inv["id"], "reason": "gone"}, headers=clerk(app)
            )
            ok = (
                r.status_code == 201
                and (await client.post(f"/v1/write-offs/{r.json()['id']}/approve", headers=finance(app))).status_code
                == 200
            )
        elif move == "void":
            ok = (await client.post(f"/v1/invoices/{inv['id']}/void", headers=clerk(app))).status_code == 200
        elif move == "merge":
            ok = len(customers) > 2
            if ok:
                merged = customers.pop(rng.randrange(len(customers)))
                survivor = rng.choice(customers)
                await deliver(
                    app,
                    CustomerMerged(survivor_id=survivor, merged_id=merged, actor="t", merged_at=datetime.now(UTC)),
                    survivor,
                )
        else:
            await deliver(app, CustomerErased(customer_id=cid, requested_by="dpo", erased_at=datetime.now(UTC)), cid)
            erased.add(cid)
            ok = True
        if ok:
            done.add(move)
    return done


@pytest.mark.parametrize("seed", [6, 7])  # seeds whose sequence has every kind of movement
async def test_read_model_and_ageing_equal_the_ledger(app: FastAPI, client: httpx.AsyncClient, seed: int) -> None:
    rng = random.Random(seed)
    done = await random_movements(app, client, rng, 60)
    assert done == {"issue", "pay", "pay_customer", "recovery", "write_off", "void", "merge", "erase"}
    entries = await ledger(app)
    assert await read_model(app) == expected_model(entries)
    # Before, inside and after the movements' dates (some entries lie after as_of), and today.
    for as_of in (
        START - timedelta(days=1),
        START + timedelta(days=40),
        START + timedelta(days=120),
        START + timedelta(days=400),
        datetime.now(UTC).date(),
    ):
        for currency in (None, "USD"):
            assert await actual_aging(app, as_of, currency, page=2) == expected_aging(entries, as_of, currency), (
                as_of,
                currency,
            )


class TestReceivablesSummary:
    async def test_auth_and_validation(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        url = f"/v1/receivables/{uuid.uuid4()}"
        assert (await client.get(url)).status_code == 401
        assert (await client.get(url, headers=bearer(app, "p", "partner"))).status_code == 403
        assert (await client.get(url, headers=bearer(app, "m", "marketing"))).status_code == 403
        r = await client.get("/v1/receivables/not-a-uuid", headers=finance(app))
        assert r.status_code == 422

    async def test_unknown_customer_has_empty_figures(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        r = await client.get(f"/v1/receivables/{uuid.uuid4()}", headers=finance(app))
        assert r.status_code == 200 and r.headers["etag"]
        body = r.json()
        assert (body["open_invoices"], body["balance"], body["aging"], body["customer_credit"]) == ([], [], [], [])
        assert (body["credit"]["known"], body["credit"]["credit_limit"], body["credit"]["exposure"]) == (
            False,
            "5000.00",
            "0.00",
        )

    async def test_equals_the_three_endpoints(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        cid = uuid.uuid4()
        today = datetime.now(UTC).date()
        old = await issued_invoice(app, client, cid, "300.00", issue_date=today - timedelta(days=70), terms=30)
        await issued_invoice(app, client, cid, "120.00", issue_date=today - timedelta(days=5), terms=30)
        await issued_invoice(app, client, cid, "80.00", issue_date=today - timedelta(days=3), currency="USD")
        await pay(app, client, invoice_id=old["id"], amount="100.00", received_on=today.isoformat())
        await pay(app, client, customer_id=cid, amount="50.00", currency="USD", received_on=today.isoformat())
        await pay(app, client, customer_id=cid, amount="40.00", currency="USD", received_on=today.isoformat())
        await client.post("/v1/invoices/overdue-run", params={"as_of": today.isoformat()}, headers=clerk(app))
        r = await client.get(f"/v1/receivables/{cid}", headers=finance(app))
        assert r.status_code == 200, r.text
        body = r.json()
        mine = {"customer_id": str(cid)}
        invoices = (await client.get("/v1/invoices", params={**mine, "limit": 200}, headers=finance(app))).json()
        credit = (await client.get(f"/v1/credit/{cid}", headers=finance(app))).json()
        aging = (await client.get("/v1/reports/aging", params=mine, headers=finance(app))).json()
        open_items = [i for i in invoices["items"] if i["status"] in ("issued", "partially_paid", "overdue")]
        assert body["open_invoices"] == open_items
        assert (
            body["recent_invoices"]
            == sorted(invoices["items"], key=lambda i: (i["issue_date"], i["id"]), reverse=True)[:10]
        )
        assert body["balance"] == [{"currency": "EUR", "amount": "320.00"}]  # the USD invoice was paid
        assert body["overdue_amount"] == [{"currency": "EUR", "amount": "200.00"}]
        assert body["aging"] == aging["totals"]
        assert {k: body["credit"][k] for k in ("rating", "credit_limit", "currency", "payment_terms_days")} == {
            k: credit[k] for k in ("rating", "credit_limit", "currency", "payment_terms_days")
        }
        check = (
            await client.post(f"/v1/credit/{cid}/check", json={"amount": "1", "currency": "EUR"}, headers=finance(app))
        ).json()
        assert (body["credit"]["known"], body["credit"]["exposure"]) == (True, check["exposure"])
        assert body["customer_credit"] == [{"currency": "USD", "amount": "10.00"}]
        assert body["truncated"] is False
        again = await client.get(f"/v1/receivables/{cid}", headers=finance(app))
        assert again.headers["etag"] == r.headers["etag"]

    async def test_roles_see_what_their_endpoints_show(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        cid = uuid.uuid4()
        await issued_invoice(app, client, cid, "10.00")
        support = (await client.get(f"/v1/receivables/{cid}", headers=bearer(app, "s", "support_agent"))).json()
        assert len(support["open_invoices"]) == 1 and (support["aging"], support["credit"]) == (None, None)
        rep = (await client.get(f"/v1/receivables/{cid}", headers=bearer(app, "r", "sales_rep"))).json()
        assert rep["aging"] is None and rep["credit"]["known"] is True
