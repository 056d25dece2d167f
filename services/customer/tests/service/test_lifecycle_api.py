"""Lifecycle driven by facts, the admin override (audited, 409 off the machine) and the churn run."""

from __future__ import annotations

import uuid

import httpx
import pytest
from fastapi import FastAPI

from services.customer.tests.helpers import at, create, deal_won, deliver, events, invoice_paid, payment
from tessera_shared.testing.plugin import bearer


async def status_of(client: httpx.AsyncClient, app: FastAPI, customer_id: str) -> dict:
    r = await client.get(f"/v1/customers/{customer_id}/status", headers=bearer(app, "a", "admin"))
    assert r.status_code == 200, r.text
    return r.json()


class TestFactsDriveStatus:
    async def test_deals_and_paid_invoices_advance_to_loyal(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        c = await create(client, app)
        deal = deal_won(c["id"], won_at=at(2026, 1, 10))
        await deliver(app, deal)
        assert (await status_of(client, app, c["id"]))["status"] == "first_time"
        # The deal's invoice paid later is the same purchase, not a second one.
        await deliver(app, invoice_paid(c["id"], deal_id=deal.deal_id, paid_at=at(2026, 2, 1)))
        assert (await status_of(client, app, c["id"]))["status"] == "first_time"
        await deliver(app, invoice_paid(c["id"], paid_at=at(2026, 3, 1)))
        assert (await status_of(client, app, c["id"]))["status"] == "repeat"
        invoice = uuid.uuid4()
        await deliver(app, payment(c["id"], "80.00", received_at=at(2026, 4, 1), invoice_id=invoice))
        status = await status_of(client, app, c["id"])
        assert status["status"] == "loyal"  # 3 purchases within 365 days (the default N)
        assert [(h["from_status"], h["to_status"], h["reason"]) for h in reversed(status["history"])] == [
            ("prospect", "first_time", "deal_won"),
            ("first_time", "repeat", "purchase"),
            ("repeat", "loyal", "sustained_buying"),
        ]
        published = [
            (e["data"]["from_status"], e["data"]["to_status"]) for e in await events(app, "customer.status_changed")
        ]
        assert published == [("prospect", "first_time"), ("first_time", "repeat"), ("repeat", "loyal")]

    async def test_re_announced_deal_has_one_effect(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        c = await create(client, app)
        deal = deal_won(c["id"])
        await deliver(app, deal)
        await deliver(app, deal)  # same fact, new event id
        got = (await client.get(f"/v1/customers/{c['id']}", headers=bearer(app, "a", "admin"))).json()
        assert (got["status"], got["value"]["purchase_count"]) == ("first_time", 1)
        assert len(await events(app, "customer.status_changed")) == 1


class TestChurnRun:
    @pytest.mark.sqlite
    async def test_no_purchase_in_window_churns_and_a_new_deal_wins_back(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        c = await create(client, app)
        fresh = await create(client, app)
        await deliver(app, deal_won(c["id"], won_at=at(2025, 1, 1)))
        await deliver(app, deal_won(fresh["id"], won_at=at(2025, 12, 1)))
        h = bearer(app, "m", "sales_manager")
        r = await client.post("/v1/customers/churn-evaluations", json={"as_of": "2026-01-02T12:00:00Z"}, headers=h)
        assert r.status_code == 200, r.text
        assert r.json()["churned"] == [c["id"]]
        again = await client.post("/v1/customers/churn-evaluations", json={"as_of": "2026-01-02T12:00:00Z"}, headers=h)
        assert again.json()["churned"] == []
        await deliver(app, deal_won(c["id"], won_at=at(2026, 2, 1)))
        status = await status_of(client, app, c["id"])
        assert status["status"] == "repeat" and status["history"][0]["reason"] == "won_back"

    async def test_errors(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        assert (await client.post("/v1/customers/churn-evaluations", json={})).status_code == 401
        r = await client.post("/v1/customers/churn-evaluations", json={}, headers=bearer(app, "r", "sales_rep"))
        assert r.status_code == 403
        r = await client.post(
            "/v1/customers/churn-evaluations", json={"as_of": "2026-01-02T12:00:00"}, headers=bearer(app, "a", "admin")
        )
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "as_of"


class TestOverride:
    @pytest.mark.sqlite
    async def test_admin_moves_along_an_edge_and_it_is_audited(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        c = await create(client, app)
        r = await client.post(
            f"/v1/customers/{c['id']}/status",
            json={"status": "non_customer", "reason": "no budget"},
            headers=bearer(app, "boss", "admin"),
        )
        assert r.status_code == 200, r.text
        last = r.json()["history"][0]
        assert (last["to_status"], last["reason"], last["actor"], last["note"]) == (
            "non_customer",
            "manual_override",
            "boss",
            "no budget",
        )
        assert r.json()["allowed_transitions"] == ["prospect"]
        assert (await events(app, "customer.status_changed"))[0]["data"]["actor"] == "boss"

    async def test_off_machine_is_409_with_allowed_moves(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        c = await create(client, app)
        r = await client.post(
            f"/v1/customers/{c['id']}/status",
            json={"status": "loyal", "reason": "friend of CEO"},
            headers=bearer(app, "a", "admin"),
        )
        assert r.status_code == 409 and r.headers["content-type"] == "application/problem+json"
        problem = r.json()
        assert problem["type"] == "urn:tessera:problem:invalid-transition"
        assert (problem["current"], problem["requested"], problem["allowed"]) == (
            "prospect",
            "loyal",
            ["first_time", "non_customer"],
        )
        assert problem["detail"] == "a customer cannot move from prospect to loyal"
        assert not {"allowed_transitions", "current_status", "requested_status"} & set(problem)
        status = await status_of(client, app, c["id"])
        assert status["status"] == "prospect"
        assert status["allowed_transitions"] == problem["allowed"]  # the read lists the same moves

    async def test_only_admins_and_valid_input(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        c = await create(client, app)
        url = f"/v1/customers/{c['id']}/status"
        body = {"status": "non_customer", "reason": "no budget"}
        assert (await client.post(url, json=body)).status_code == 401
        assert (await client.post(url, json=body, headers=bearer(app, "m", "sales_manager"))).status_code == 403
        admin = bearer(app, "a", "admin")
        r = await client.post(url, json={"status": "vip", "reason": ""}, headers=admin)
        assert r.status_code == 422 and {e["field"] for e in r.json()["errors"]} == {"status", "reason"}
        r = await client.post(url, json=body, headers={**admin, "If-Match": '"x.9"'})
        assert r.status_code == 412
        assert (await client.post(f"/v1/customers/{uuid.uuid4()}/status", json=body, headers=admin)).status_code == 404
