"""Loyalty that pays (docs/domain.md §10.5), the customer service's part: level moves are announced,
billing's requests to pay an invoice with points are answered once, reversals give the points back."""

from __future__ import annotations

import uuid
from decimal import Decimal

import httpx
import pytest
from fastapi import FastAPI

from services.customer.tests.helpers import NOW, create, deliver, events, invoice_paid, payment
from tessera_shared.events.contracts import LoyaltyPaymentRequested, LoyaltyPaymentReversed
from tessera_shared.testing.plugin import bearer


def requested(customer_id: str, points: int, request_id: uuid.UUID | None = None) -> LoyaltyPaymentRequested:
    return LoyaltyPaymentRequested(
        request_id=request_id or uuid.uuid4(),
        customer_id=uuid.UUID(customer_id),
        invoice_id=uuid.uuid4(),
        number="INV-2026-000007",
        points=points,
        amount=Decimal(points) / 100,
        currency="EUR",
        requested_by="clerk",
        requested_at=NOW,
    )


def reversed_(request: LoyaltyPaymentRequested) -> LoyaltyPaymentReversed:
    return LoyaltyPaymentReversed(
        request_id=request.request_id,
        customer_id=request.customer_id,
        invoice_id=request.invoice_id,
        number=request.number,
        points=request.points,
        amount=request.amount,
        currency="EUR",
        reason="invoice_voided",
        reversed_at=NOW,
    )


async def balance(app: FastAPI, client: httpx.AsyncClient, customer_id: str) -> int:
    r = await client.get(f"/v1/customers/{customer_id}/loyalty", headers=bearer(app, "a", "admin"))
    return int(r.json()["balance"])


class TestLevelChanges:
    @pytest.mark.sqlite
    async def test_each_move_is_announced_once(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        c = await create(client, app)
        await deliver(app, invoice_paid(c["id"], total="600.00"))  # 600 points: still silver
        assert await events(app, "loyalty.level_changed") == []
        await deliver(app, invoice_paid(c["id"], total="400.00"))  # 1000: gold
        await deliver(app, invoice_paid(c["id"], total="10.00"))  # 1010: still gold
        await deliver(app, invoice_paid(c["id"], total="4000.00"))  # 5010: platinum
        moves = [(e["subject"], e["data"]) for e in await events(app, "loyalty.level_changed")]
        assert [(s, d["from_level"], d["to_level"], d["discount_percent"], d["earned_total"]) for s, d in moves] == [
            (c["id"], "silver", "gold", "5", 1000),
            (c["id"], "gold", "platinum", "10", 5010),
        ]

    async def test_a_merge_announces_the_survivors_level(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        survivor = await create(client, app, kind="organization", name="Acme", email=None)
        dup = await create(client, app, kind="organization", name="Acme GmbH")
        await deliver(app, invoice_paid(survivor["id"], total="700.00"))
        await deliver(app, invoice_paid(dup["id"], total="300.00"))
        h = bearer(app, "m", "sales_manager")
        r = await client.post(f"/v1/customers/{survivor['id']}/merge", json={"duplicate_id": dup["id"]}, headers=h)
        assert r.status_code == 200, r.text
        moves = [(e["subject"], e["data"]["to_level"]) for e in await events(app, "loyalty.level_changed")]
        assert moves == [(survivor["id"], "gold")]  # 700 + 300 earned together


class TestPayingWithPoints:
    @pytest.mark.sqlite
    async def test_redeemed_once_then_given_back_once(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        c = await create(client, app)
        await deliver(app, invoice_paid(c["id"], total="1200.00"))
        ask = requested(c["id"], 500)
        await deliver(app, ask)
        await deliver(app, ask, event_id=uuid.uuid4())  # re-announced under a new id: no second redemption
        assert await balance(app, client, c["id"]) == 700
        answers = [e["data"] for e in await events(app, "loyalty.points_redeemed")]
        assert [(a["request_id"], a["points"], a["balance"]) for a in answers] == [(str(ask.request_id), 500, 700)]
        back = reversed_(ask)
        await deliver(app, back)
        await deliver(app, back, event_id=uuid.uuid4())
        assert await balance(app, client, c["id"]) == 1200
        h = bearer(app, "a", "admin")
        entries = (await client.get(f"/v1/customers/{c['id']}/loyalty/entries", headers=h)).json()["items"]
        assert [(e["kind"], e["points"], e["balance_after"], e["reason"]) for e in entries] == [
            ("restore", 500, 1200, "invoice INV-2026-000007: payment reversed (invoice_voided)"),
            ("redeem", -500, 700, "paid towards invoice INV-2026-000007"),
            ("earn", 1200, 1200, "invoice INV-1 paid"),
        ]
        account = (await client.get(f"/v1/customers/{c['id']}/loyalty", headers=h)).json()
        assert (account["earned_total"], account["level"]) == (1200, "gold")  # redeeming lowers no level
        kinds = [e["kind"] for e in (await client.get(f"/v1/customers/{c['id']}/timeline", headers=h)).json()["items"]]
        assert kinds.count("loyalty.payment_requested") == 1 and kinds.count("loyalty.payment_reversed") == 1

    async def test_a_short_balance_is_refused_whole(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        c = await create(client, app)
        await deliver(app, invoice_paid(c["id"], total="300.00"))
        ask = requested(c["id"], 301)
        await deliver(app, ask)
        assert await balance(app, client, c["id"]) == 300
        refused = [e["data"] for e in await events(app, "loyalty.redemption_refused")]
        assert [(r["request_id"], r["points"], r["balance"], r["reason"]) for r in refused] == [
            (str(ask.request_id), 301, 300, "insufficient-points")
        ]
        assert await events(app, "loyalty.points_redeemed") == []


class TestPointsAreNotMoney:
    """A payment with points is no money received: no lifetime value, no points earned on it."""

    @pytest.mark.sqlite
    async def test_a_points_payment_adds_no_lifetime_value_and_earns_nothing(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        c = await create(client, app)
        invoice_id = uuid.uuid4()
        await deliver(app, payment(c["id"], "15.00", invoice_id=invoice_id, method="loyalty_points"))
        await deliver(app, payment(c["id"], "85.00", invoice_id=invoice_id))
        await deliver(app, invoice_paid(c["id"], total="100.00", invoice_id=invoice_id, paid_with_points="15.00"))
        h = bearer(app, "a", "admin")
        value = (await client.get(f"/v1/customers/{c['id']}", headers=h)).json()["value"]
        assert value["lifetime_values"] == {"EUR": "85.00"}
        account = (await client.get(f"/v1/customers/{c['id']}/loyalty", headers=h)).json()
        assert (account["balance"], account["earned_total"]) == (85, 85)

    async def test_the_recomputation_leaves_points_out_too(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        c = await create(client, app)
        await deliver(app, payment(c["id"], "500.00", invoice_id=uuid.uuid4(), method="loyalty_points"))
        await deliver(app, payment(c["id"], "40.00", invoice_id=uuid.uuid4()))
        h = bearer(app, "m", "sales_manager")
        r = await client.post("/v1/customers/value-recomputations", json={"as_of": NOW.isoformat()}, headers=h)
        assert r.status_code == 200, r.text
        value = (await client.get(f"/v1/customers/{c['id']}", headers=h)).json()["value"]
        assert value["lifetime_values"] == {"EUR": "40.00"}
        assert Decimal(value["monetary"]) == Decimal("40.00")
