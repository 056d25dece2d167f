"""Consent, export and erasure; duplicates and merge; the loyalty points account."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import update

from services.customer.tests.helpers import create, deal_won, deliver, events, invoice_paid, payment
from tessera_shared.db import unit_of_work, utcnow
from tessera_shared.outbox import outbox
from tessera_shared.testing.plugin import bearer


class TestConsents:
    async def test_latest_answer_per_purpose_with_history(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        c = await create(client, app, who=("rep1", "sales_rep"))  # rep1's own (test_owner_rules: others')
        h = bearer(app, "rep1", "sales_rep")
        url = f"/v1/customers/{c['id']}/consents"
        for granted, source in ((True, "web_form"), (False, "phone_call")):
            r = await client.post(
                url, json={"purpose": "marketing_email", "granted": granted, "source": source}, headers=h
            )
            assert r.status_code == 201, r.text
        body = (await client.get(url, headers=h)).json()
        assert [(x["purpose"], x["granted"], x["source"]) for x in body["current"]] == [
            ("marketing_email", False, "phone_call")
        ]
        assert [x["granted"] for x in body["history"]] == [False, True]
        assert body["current"][0]["recorded_by"] == "rep1"

    async def test_errors(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        c = await create(client, app)
        url = f"/v1/customers/{c['id']}/consents"
        good = {"purpose": "sms", "granted": True, "source": "shop"}
        assert (await client.post(url, json=good)).status_code == 401
        assert (await client.post(url, json=good, headers=bearer(app, "c", "billing_clerk"))).status_code == 403
        r = await client.post(url, json={**good, "purpose": "telepathy"}, headers=bearer(app, "a", "admin"))
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "purpose"
        assert (
            await client.get(f"/v1/customers/{uuid.uuid4()}/consents", headers=bearer(app, "a", "admin"))
        ).status_code == 404


class TestExportAndErase:
    @pytest.mark.sqlite
    async def test_export_holds_everything_and_is_audited(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        c = await create(client, app, kind="organization", name="Acme")
        admin = bearer(app, "dpo", "admin")
        await client.post(f"/v1/customers/{c['id']}/contacts", json={"name": "Grace"}, headers=admin)
        await deliver(app, deal_won(c["id"]))
        r = await client.get(f"/v1/customers/{c['id']}/export", headers=admin)
        assert r.status_code == 200, r.text
        data = r.json()
        assert data["customer"]["email"] == c["email"]
        assert [x["name"] for x in data["contacts"]] == ["Grace"]
        assert {e["kind"] for e in data["timeline"]} >= {"deal.won", "customer.created"}
        assert len(data["purchases"]) == 1 and data["status_history"][0]["to_status"] == "first_time"
        await app.state.runtime.rows.flush()  # reads are audited behind the request
        # Each export lists the reads audited before it; its own row is written behind the request
        # (every 0.2 s), so on a slow machine it may already be there too.
        again = (await client.get(f"/v1/customers/{c['id']}/export", headers=admin)).json()
        seen = [(a["principal"], a["action"]) for a in again["access_log"]]
        assert seen in ([("dpo", "export")], [("dpo", "export")] * 2)
        await app.state.runtime.rows.flush()
        third = (await client.get(f"/v1/customers/{c['id']}/export", headers=admin)).json()
        seen = [(a["principal"], a["action"]) for a in third["access_log"]]
        assert seen in ([("dpo", "export")] * 2, [("dpo", "export")] * 3)
        assert (
            await client.get(f"/v1/customers/{c['id']}/export", headers=bearer(app, "m", "sales_manager"))
        ).status_code == 403

    @pytest.mark.sqlite
    async def test_erase_anonymises_keeps_totals_and_announces(
        self, app: FastAPI, client: httpx.AsyncClient, backend: str
    ) -> None:
        c = await create(client, app, phone="+49 30 1234567", tags=["vip"])
        await deliver(app, payment(c["id"], "120.00", invoice_id=uuid.uuid4()))
        admin = bearer(app, "dpo", "admin")
        url = f"/v1/customers/{c['id']}/erase"
        assert (
            await client.post(url, json={"reason": "GDPR art. 17"}, headers=bearer(app, "m", "sales_manager"))
        ).status_code == 403
        assert (await client.post(url, json={}, headers=admin)).status_code == 422
        async with unit_of_work(app.state.runtime.sessions) as session:  # as the relay would have
            await session.execute(update(outbox).values(sent_at=utcnow()))
        r = await client.post(url, json={"reason": "GDPR art. 17"}, headers=admin)
        assert r.status_code == 200, r.text
        erased = r.json()
        assert (erased["name"], erased["email"], erased["phone"], erased["tags"]) == ("erased customer", None, None, [])
        assert erased["value"]["lifetime_values"] == {"EUR": "120.00"} and erased["value"]["purchase_count"] == 1
        timeline = (await client.get(f"/v1/customers/{c['id']}/timeline", headers=admin)).json()["items"]
        assert all(c["name"] not in e["summary"] and c["email"] not in str(e["data"]) for e in timeline)
        assert [e["data"]["requested_by"] for e in await events(app, "customer.erased")] == ["dpo"]
        if backend == "sqlite":  # no file of the database keeps the address (its WAL did)
            path = Path(app.state.runtime.settings.database_url.split("///", 1)[1])
            assert [f.name for f in path.parent.glob(f"{path.name}*") if c["email"].encode() in f.read_bytes()] == []
        again = await client.post(url, json={"reason": "again"}, headers=admin)
        assert again.status_code == 409 and again.json()["type"] == "urn:tessera:problem:customer-erased"
        r = await client.patch(f"/v1/customers/{c['id']}", json={"name": "Back"}, headers=admin)
        assert r.status_code == 409 and r.json()["type"] == "urn:tessera:problem:customer-erased"


class TestDuplicatesAndMerge:
    @pytest.mark.sqlite
    async def test_finds_candidates_with_reasons(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        a = await create(client, app, email="ada@acme.io", phone="+44 20 7946 0000")
        b = await create(client, app, email="ADA@acme.io", phone="+44 (20) 7946-0000")
        org1 = await create(client, app, kind="organization", name="Acme GmbH", email=None)
        org2 = await create(client, app, kind="organization", name="ACME Ltd.", email=None)
        await create(client, app)
        h = bearer(app, "m", "sales_manager")
        r = await client.get("/v1/customers/duplicates", headers=h)
        assert r.status_code == 200, r.text
        pairs = {(p["customer_id"], p["duplicate_id"]): p["reasons"] for p in r.json()["items"]}
        # Matched on two keys, listed once.
        assert pairs == {
            (a["id"], b["id"]): ["same_email", "same_phone"],
            (org1["id"], org2["id"]): ["same_organisation_name"],
        }
        page = (await client.get("/v1/customers/duplicates", params={"limit": 1}, headers=h)).json()
        rest = (await client.get("/v1/customers/duplicates", params={"cursor": page["next_cursor"]}, headers=h)).json()
        assert len(page["items"]) == len(rest["items"]) == 1 and rest["next_cursor"] is None
        mine = (await client.get("/v1/customers/duplicates", params={"customer_id": b["id"]}, headers=h)).json()
        assert [(p["duplicate_id"], p["reasons"]) for p in mine["items"]] == [(a["id"], ["same_email", "same_phone"])]
        assert (
            await client.get("/v1/customers/duplicates", headers=bearer(app, "c", "billing_clerk"))
        ).status_code == 403

    @pytest.mark.sqlite
    async def test_merge_moves_everything_and_announces(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        survivor = await create(client, app, kind="organization", name="Acme", email=None, tags=["a"])
        dup = await create(client, app, kind="organization", name="Acme GmbH", phone="+49 30 1234567", tags=["b"])
        admin = bearer(app, "a", "admin")
        await client.post(f"/v1/customers/{dup['id']}/contacts", json={"name": "Grace"}, headers=admin)
        await deliver(app, invoice_paid(dup["id"], total="300.00"))
        h = bearer(app, "m", "sales_manager")
        r = await client.post(f"/v1/customers/{survivor['id']}/merge", json={"duplicate_id": dup["id"]}, headers=h)
        assert r.status_code == 200, r.text
        merged = r.json()
        assert (merged["email"], merged["phone"], merged["tags"]) == (dup["email"], "+49301234567", ["a", "b"])
        assert merged["value"]["purchase_count"] == 1
        assert merged["status"] == "first_time"  # recomputed from the combined purchases
        changes = [
            (e["subject"], e["data"]["to_status"], e["data"]["reason"])
            for e in await events(app, "customer.status_changed")
        ]
        assert changes[-1] == (survivor["id"], "first_time", "merge")
        contacts = (await client.get(f"/v1/customers/{survivor['id']}/contacts", headers=h)).json()["items"]
        assert [x["name"] for x in contacts] == ["Grace"]
        assert (await client.get(f"/v1/customers/{survivor['id']}/loyalty", headers=h)).json()["balance"] == 300
        gone = await client.get(f"/v1/customers/{dup['id']}", headers=h)
        assert gone.status_code == 404 and gone.json()["merged_into"] == survivor["id"]
        assert gone.json()["type"] == "urn:tessera:problem:not-found"
        assert gone.json()["detail"] == f"customer {dup['id']} was merged into {survivor['id']}"
        assert [(e["data"]["survivor_id"], e["data"]["merged_id"]) for e in await events(app, "customer.merged")] == [
            (survivor["id"], dup["id"])
        ]
        # A late fact about the merged id lands on the survivor.
        await deliver(app, deal_won(dup["id"]))
        kinds = [
            e["kind"] for e in (await client.get(f"/v1/customers/{survivor['id']}/timeline", headers=h)).json()["items"]
        ]
        assert kinds.count("deal.won") == 1 and "invoice.paid" in kinds and "customer.merged" in kinds

    async def test_merge_errors(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        c = await create(client, app)
        url = f"/v1/customers/{c['id']}/merge"
        assert (await client.post(url, json={"duplicate_id": c["id"]})).status_code == 401
        assert (
            await client.post(url, json={"duplicate_id": c["id"]}, headers=bearer(app, "r", "sales_rep"))
        ).status_code == 403
        h = bearer(app, "m", "sales_manager")
        assert (await client.post(url, json={"duplicate_id": c["id"]}, headers=h)).status_code == 409
        assert (await client.post(url, json={"duplicate_id": str(uuid.uuid4())}, headers=h)).status_code == 404
        assert (await client.post(url, json={"duplicate_id": "x"}, headers=h)).status_code == 422


class TestLoyalty:
    @pytest.mark.sqlite
    async def test_earn_once_per_invoice_redeem_and_statement(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        c = await create(client, app, ("rep1", "sales_rep"))
        paid = invoice_paid(c["id"], total="1250.75")
        await deliver(app, paid)
        await deliver(app, paid)  # re-announced: no second earning
        h = bearer(app, "rep1", "sales_rep")
        account = (await client.get(f"/v1/customers/{c['id']}/loyalty", headers=h)).json()
        assert (account["balance"], account["level"], account["discount_percent"]) == (1250, "gold", "5")
        url = f"/v1/customers/{c['id']}/loyalty/redemptions"
        r = await client.post(url, json={"points": 250, "reason": "discount on order 7"}, headers=h)
        assert r.status_code == 201 and r.json()["balance"] == 1000
        r = await client.post(url, json={"points": 1001, "reason": "too much"}, headers=h)
        assert r.status_code == 409 and r.json()["balance"] == 1000
        assert r.json()["type"] == "urn:tessera:problem:insufficient-points"
        entries = (await client.get(f"/v1/customers/{c['id']}/loyalty/entries", headers=h)).json()["items"]
        assert [(e["kind"], e["points"], e["balance_after"]) for e in entries] == [
            ("redeem", -250, 1000),
            ("earn", 1250, 1250),
        ]

    async def test_errors(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        c = await create(client, app, ("rep1", "sales_rep"))
        url = f"/v1/customers/{c['id']}/loyalty/redemptions"
        assert (await client.post(url, json={"points": 1, "reason": "abc"})).status_code == 401
        assert (
            await client.post(url, json={"points": 1, "reason": "abc"}, headers=bearer(app, "rep2", "sales_rep"))
        ).status_code == 403
        r = await client.post(url, json={"points": -5, "reason": "abc"}, headers=bearer(app, "a", "admin"))
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "points"
        assert (
            await client.get(f"/v1/customers/{uuid.uuid4()}/loyalty", headers=bearer(app, "a", "admin"))
        ).status_code == 404
