"""customer.consent_changed: every consent answer is announced, and an erasure withdraws the granted ones
(docs/domain.md §10.4)."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from services.customer.tests.helpers import create, events
from tessera_shared.testing.plugin import bearer


class TestConsentEvents:
    @pytest.mark.sqlite
    async def test_each_answer_is_announced(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        c = await create(client, app)
        url = f"/v1/customers/{c['id']}/consents"
        h = bearer(app, "mgr", "sales_manager")
        for purpose, granted, source in (("marketing_email", True, "web_form"), ("marketing_email", False, "call")):
            r = await client.post(url, json={"purpose": purpose, "granted": granted, "source": source}, headers=h)
            assert r.status_code == 201, r.text
        announced = await events(app, "customer.consent_changed")
        assert [(e["subject"], e["data"]["purpose"], e["data"]["granted"], e["data"]["source"]) for e in announced] == [
            (c["id"], "marketing_email", True, "web_form"),
            (c["id"], "marketing_email", False, "call"),
        ]
        assert announced[0]["data"]["actor"] == "mgr" and announced[0]["data"]["customer_id"] == c["id"]

    async def test_erasure_withdraws_granted_consents_before_erased(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        c = await create(client, app)
        url = f"/v1/customers/{c['id']}/consents"
        admin = bearer(app, "a", "admin")
        for purpose, granted in (("marketing_email", True), ("sms", False), ("phone", True)):
            r = await client.post(url, json={"purpose": purpose, "granted": granted, "source": "shop"}, headers=admin)
            assert r.status_code == 201
        r = await client.post(f"/v1/customers/{c['id']}/erase", json={"reason": "art. 17 request"}, headers=admin)
        assert r.status_code == 200, r.text
        announced = [e for e in await events(app) if e["type"] in ("customer.consent_changed", "customer.erased")]
        tail = [
            (e["type"], e["data"].get("purpose"), e["data"].get("granted"), e["data"].get("source"))
            for e in announced[3:]
        ]
        assert tail == [
            ("customer.consent_changed", "marketing_email", False, "erasure"),
            ("customer.consent_changed", "phone", False, "erasure"),
            ("customer.erased", None, None, None),
        ]
        body = (await client.get(url, headers=admin)).json()
        assert {x["purpose"]: (x["granted"], x["source"]) for x in body["current"]} == {
            "marketing_email": (False, "erasure"),
            "phone": (False, "erasure"),
            "sms": (False, "shop"),
        }
        assert len(body["history"]) == 5

    async def test_a_merge_announces_the_answers_the_survivor_takes_over(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        admin = bearer(app, "a", "admin")
        survivor, duplicate = await create(client, app), await create(client, app)
        answers = (
            (survivor, "sms", True),
            (duplicate, "sms", False),  # later: the survivor takes it
            (duplicate, "marketing_email", True),  # the survivor has none: it takes it
            (survivor, "phone", True),
        )
        for c, purpose, granted in answers:
            r = await client.post(
                f"/v1/customers/{c['id']}/consents",
                json={"purpose": purpose, "granted": granted, "source": "shop"},
                headers=admin,
            )
            assert r.status_code == 201
        before = len(await events(app, "customer.consent_changed"))
        r = await client.post(
            f"/v1/customers/{survivor['id']}/merge", json={"duplicate_id": duplicate["id"]}, headers=admin
        )
        assert r.status_code == 200, r.text
        announced = [e for e in await events(app) if e["type"] in ("customer.consent_changed", "customer.merged")]
        tail = [
            (e["type"], e["subject"], e["data"].get("purpose"), e["data"].get("granted")) for e in announced[before:]
        ]
        assert tail == [
            ("customer.consent_changed", survivor["id"], "marketing_email", True),
            ("customer.consent_changed", survivor["id"], "sms", False),
            ("customer.merged", survivor["id"], None, None),
        ]
