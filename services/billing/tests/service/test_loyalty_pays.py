"""Loyalty that pays (docs/domain.md §10.5), billing's part: the member discount on invoices from won
deals, paying part of an invoice with points, the void that gives them back, the statement."""

from __future__ import annotations

import sys
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

sys.path.insert(0, str(Path(__file__).parents[1]))

from billing_helpers import clerk, customer_created, deal_won, deliver, events, finance, issued_invoice, pay

from tessera_shared.events.contracts import (
    CustomerMerged,
    LineItem,
    LoyaltyLevelChanged,
    LoyaltyPointsRedeemed,
    LoyaltyRedemptionRefused,
)
from tessera_shared.testing.plugin import bearer

AT = datetime(2026, 2, 1, tzinfo=UTC)


async def known(app: FastAPI, customer_id: uuid.UUID) -> uuid.UUID:
    """Billing invoices deals of customers it knows (docs/domain.md §10.2)."""
    await deliver(app, customer_created(customer_id), customer_id)
    return customer_id


def level(customer_id: uuid.UUID, to: str, rate: str, at: datetime = AT) -> LoyaltyLevelChanged:
    return LoyaltyLevelChanged(
        customer_id=customer_id,
        from_level="silver",
        to_level=to,
        discount_percent=Decimal(rate),
        earned_total=1000,
        changed_at=at,
    )


def redeemed(request: dict, balance: int = 0) -> LoyaltyPointsRedeemed:
    return LoyaltyPointsRedeemed(
        request_id=uuid.UUID(request["id"]),
        customer_id=uuid.UUID(request["customer_id"]),
        invoice_id=uuid.UUID(request["invoice_id"]),
        points=request["points"],
        balance=balance,
        redeemed_at=AT,
    )


async def invoice_of_deal(app: FastAPI, client: httpx.AsyncClient, deal_id: uuid.UUID) -> dict:
    r = await client.get("/v1/invoices", params={"deal_id": str(deal_id)}, headers=clerk(app))
    (item,) = r.json()["items"]
    return (await client.get(f"/v1/invoices/{item['id']}", headers=clerk(app))).json()


async def ask(app: FastAPI, client: httpx.AsyncClient, invoice: dict, points: int) -> httpx.Response:
    return await client.post(
        f"/v1/invoices/{invoice['id']}/loyalty-payments", json={"points": points}, headers=clerk(app)
    )


class TestMemberDiscount:
    @pytest.mark.sqlite
    async def test_a_gold_members_won_deal_is_invoiced_with_the_discount(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        cid = await known(app, uuid.uuid4())
        await deliver(app, level(cid, "gold", "5"), cid)
        await deliver(app, level(cid, "silver", "0", at=AT - timedelta(days=1)), cid)  # older: ignored
        deal = deal_won(
            cid,
            items=[
                LineItem(
                    description="Licence",
                    quantity=Decimal(3),
                    unit_price=Decimal("33.33"),
                    tax_rate_percent=Decimal(19),
                ),
            ],
        )
        await deliver(app, deal, cid)
        invoice = await invoice_of_deal(app, client, deal.deal_id)
        lines = [
            (x["description"], x["unit_price"], x["net_amount"], x["tax_amount"], x["member_discount_percent"])
            for x in invoice["lines"]
        ]
        # 5 % of 99.99 = 4.9995 -> 5.00; its tax 19 % of -5.00 = -0.95
        assert lines == [
            ("Licence", "33.33", "99.99", "19.00", None),
            ("Gold member discount 5%", "-5", "-5.00", "-0.95", "5"),
        ]
        assert (invoice["subtotal"], invoice["tax_total"], invoice["total"]) == ("94.99", "18.05", "113.04")
        assert (invoice["status"], invoice["balance_due"]) == ("issued", "113.04")
        issued = await events(app, "invoice.issued")
        assert [e["total"] for e in issued] == ["113.04"]

    async def test_no_level_known_or_a_level_without_discount_no_line(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        unknown, silver = await known(app, uuid.uuid4()), await known(app, uuid.uuid4())
        await deliver(app, level(silver, "silver", "0"), silver)
        for cid in (unknown, silver):
            deal = deal_won(cid)
            await deliver(app, deal, cid)
            invoice = await invoice_of_deal(app, client, deal.deal_id)
            assert [x["description"] for x in invoice["lines"]] == ["Licence"]
            assert invoice["total"] == "238.00"

    async def test_rounded_to_the_currencys_minor_unit(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        cid = await known(app, uuid.uuid4())
        await deliver(app, level(cid, "platinum", "10"), cid)
        deal = deal_won(
            cid,
            currency="JPY",
            items=[
                LineItem(description="Box", quantity=Decimal(1), unit_price=Decimal(1005), tax_rate_percent=Decimal(0))
            ],
        )
        await deliver(app, deal, cid)
        invoice = await invoice_of_deal(app, client, deal.deal_id)
        assert [(x["net_amount"], x["member_discount_percent"]) for x in invoice["lines"]] == [
            ("1005", None),
            ("-101", "10"),  # 100.5 -> 101, half-up, no minor unit
        ]
        assert invoice["total"] == "904"


class TestPayingWithPoints:
    @pytest.mark.sqlite
    async def test_asked_redeemed_paid_then_voided_and_given_back(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        cid = uuid.uuid4()
        invoice = await issued_invoice(app, client, cid, amount="100.00")
        r = await ask(app, client, invoice, 1500)  # 1500 x 0.01 = 15.00 EUR
        assert r.status_code == 202, r.text
        request = r.json()
        assert (request["status"], request["amount"], request["point_value"], request["points"]) == (
            "pending",
            "15.00",
            "0.01",
            1500,
        )
        assert r.headers["Location"] == f"/v1/loyalty-payments/{request['id']}"
        (asked,) = await events(app, "loyalty.payment_requested")
        assert (asked["request_id"], asked["points"], asked["amount"], asked["number"]) == (
            request["id"],
            1500,
            "15.00",
            invoice["number"],
        )
        await deliver(app, redeemed(request, balance=500), cid)
        await deliver(app, redeemed(request, balance=500), cid)  # answered before: nothing more
        got = (await client.get(f"/v1/loyalty-payments/{request['id']}", headers=finance(app))).json()
        assert (got["status"], got["balance_after"]) == ("applied", 500)
        payment = (await client.get(f"/v1/payments/{got['payment_id']}", headers=clerk(app))).json()
        assert (payment["method"], payment["amount"], payment["reference"]) == (
            "loyalty_points",
            "15.00",
            "1500 loyalty points",
        )
        received = await events(app, "payment.received")
        assert [(e["method"], e["amount"]) for e in received] == [("loyalty_points", "15.00")]
        inv = (await client.get(f"/v1/invoices/{invoice['id']}", headers=clerk(app))).json()
        assert (inv["status"], inv["amount_paid"], inv["balance_due"]) == ("partially_paid", "15.00", "85.00")

        r = await client.post(f"/v1/invoices/{invoice['id']}/void", headers=clerk(app))
        assert r.status_code == 200, r.text
        assert (r.json()["status"], r.json()["amount_paid"], r.json()["balance_due"]) == ("void", "0.00", "0.00")
        (back,) = await events(app, "loyalty.payment_reversed")
        assert (back["request_id"], back["points"], back["reason"]) == (request["id"], 1500, "invoice_voided")
        got = (await client.get(f"/v1/loyalty-payments/{request['id']}", headers=clerk(app))).json()
        assert got["status"] == "reversed" and got["reversed_at"] is not None
        payment = (await client.get(f"/v1/payments/{got['payment_id']}", headers=clerk(app))).json()
        assert [a["amount"] for a in payment["allocations"]] == ["15.00", "-15.00"]
        assert payment["unallocated"] == "0.00"  # points are no customer credit

        today = datetime.now(UTC).date().isoformat()
        r = await client.get(
            "/v1/reports/statement",
            params={"customer_id": str(cid), "currency": "EUR", "from": "2026-01-01", "to": today},
            headers=finance(app),
        )
        assert r.status_code == 200, r.text
        statement = r.json()
        assert [(x["kind"], x["amount"], x["loyalty_points"]) for x in statement["lines"]] == [
            ("invoiced", "100.00", None),
            ("collected", "-15.00", 1500),
            ("collected", "15.00", 1500),
            ("voided", "-100.00", None),
        ]
        assert statement["closing_balance"] == "0.00"

    @pytest.mark.sqlite
    async def test_invoice_paid_names_the_part_paid_with_points(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        """Points are no money received: invoice.paid says how much of the total they paid, so the
        customer service earns points on the rest only (docs/domain.md §10.5)."""
        cid = uuid.uuid4()
        by_points = await issued_invoice(app, client, cid, amount="100.00")
        request = (await ask(app, client, by_points, 1500)).json()
        await deliver(app, redeemed(request), cid)
        assert (await pay(app, client, invoice_id=by_points["id"], amount="85.00")).status_code == 201
        by_card = await issued_invoice(app, client, cid, amount="40.00")
        assert (await pay(app, client, invoice_id=by_card["id"], amount="40.00")).status_code == 201
        paid = {e["invoice_id"]: (e["total"], e["paid_with_points"]) for e in await events(app, "invoice.paid")}
        assert paid == {by_points["id"]: ("100.00", "15.00"), by_card["id"]: ("40.00", "0.00")}

    async def test_refused_pays_nothing(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        cid = uuid.uuid4()
        invoice = await issued_invoice(app, client, cid, amount="100.00")
        request = (await ask(app, client, invoice, 1000)).json()
        refusal = LoyaltyRedemptionRefused(
            request_id=uuid.UUID(request["id"]),
            customer_id=cid,
            invoice_id=uuid.UUID(invoice["id"]),
            points=1000,
            balance=999,
            reason="insufficient-points",
            refused_at=AT,
        )
        await deliver(app, refusal, cid)
        await deliver(app, redeemed(request), cid)  # a late contrary answer changes nothing
        got = (await client.get(f"/v1/loyalty-payments/{request['id']}", headers=clerk(app))).json()
        assert (got["status"], got["balance_after"], got["payment_id"]) == ("refused", 999, None)
        assert await events(app, "payment.received") == []
        inv = (await client.get(f"/v1/invoices/{invoice['id']}", headers=clerk(app))).json()
        assert (inv["status"], inv["balance_due"]) == ("issued", "100.00")

    async def test_an_invoice_settled_meanwhile_cancels_and_gives_back(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        cid = uuid.uuid4()
        invoice = await issued_invoice(app, client, cid, amount="100.00")
        request = (await ask(app, client, invoice, 2000)).json()
        assert (await pay(app, client, invoice_id=invoice["id"], amount="100.00")).status_code == 201
        await deliver(app, redeemed(request), cid)
        got = (await client.get(f"/v1/loyalty-payments/{request['id']}", headers=clerk(app))).json()
        assert (got["status"], got["payment_id"]) == ("cancelled", None)
        (back,) = await events(app, "loyalty.payment_reversed")
        assert (back["request_id"], back["points"], back["reason"]) == (request["id"], 2000, "invoice_not_open")

    async def test_cash_on_the_invoice_still_refuses_the_void(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        cid = uuid.uuid4()
        invoice = await issued_invoice(app, client, cid, amount="100.00")
        request = (await ask(app, client, invoice, 1000)).json()
        await deliver(app, redeemed(request), cid)
        assert (await pay(app, client, invoice_id=invoice["id"], amount="5.00")).status_code == 201
        r = await client.post(f"/v1/invoices/{invoice['id']}/void", headers=clerk(app))
        assert r.status_code == 409 and r.json()["type"] == "urn:tessera:problem:invoice-has-payments"
        assert await events(app, "loyalty.payment_reversed") == []

    async def test_a_merge_moves_the_requests_to_the_survivor(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        survivor, merged = uuid.uuid4(), uuid.uuid4()
        invoice = await issued_invoice(app, client, merged, amount="100.00")
        request = (await ask(app, client, invoice, 1000)).json()
        await deliver(app, CustomerMerged(survivor_id=survivor, merged_id=merged, actor="m", merged_at=AT), survivor)
        await deliver(app, redeemed(request), survivor)
        got = (await client.get(f"/v1/loyalty-payments/{request['id']}", headers=clerk(app))).json()
        assert (got["customer_id"], got["status"]) == (str(survivor), "applied")
        payment = (await client.get(f"/v1/payments/{got['payment_id']}", headers=clerk(app))).json()
        assert payment["customer_id"] == str(survivor)

    async def test_refusals(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        cid = uuid.uuid4()
        invoice = await issued_invoice(app, client, cid, amount="10.00")
        url = f"/v1/invoices/{invoice['id']}/loyalty-payments"
        assert (await client.post(url, json={"points": 1})).status_code == 401
        assert (await client.post(url, json={"points": 1}, headers=finance(app))).status_code == 403
        r = await client.post(url, json={"points": "10"}, headers=clerk(app))
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "points"
        r = await ask(app, client, invoice, 600)
        assert r.status_code == 202
        r = await ask(app, client, invoice, 401)  # 6.00 pending leaves 4.00: at most 400 points
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "points"
        assert "at most 400 points" in r.json()["errors"][0]["message"]
        draft = await client.post(
            "/v1/invoices",
            json={
                "customer_id": str(cid),
                "currency": "EUR",
                "lines": [{"description": "x", "quantity": "1", "unit_price": "5.00"}],
            },
            headers=clerk(app),
        )
        r = await ask(app, client, draft.json(), 100)
        assert r.status_code == 409 and r.json()["type"] == "urn:tessera:problem:invoice-not-open"
        missing = await client.post(
            f"/v1/invoices/{uuid.uuid4()}/loyalty-payments", json={"points": 1}, headers=clerk(app)
        )
        assert missing.status_code == 404
        r = await client.get(f"/v1/loyalty-payments/{uuid.uuid4()}", headers=clerk(app))
        assert r.status_code == 404
        r = await client.get(f"/v1/loyalty-payments/{uuid.uuid4()}", headers=bearer(app, "x", "marketing"))
        assert r.status_code in (401, 403)
