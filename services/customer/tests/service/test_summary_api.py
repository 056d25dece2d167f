"""GET /v1/customers/{id}/summary: the customer part of the 360 view in one read."""

from __future__ import annotations

import uuid

import httpx
import pytest
from fastapi import FastAPI

from tessera_shared.testing.builders import customer_payload
from tessera_shared.testing.plugin import bearer


class TestCustomerSummary:
    async def test_holds_every_part(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        admin = bearer(app, "a", "admin")
        org = (await client.post("/v1/customers", json=customer_payload(kind="organization"), headers=admin)).json()
        await client.post(f"/v1/customers/{org['id']}/contacts", json={"name": "Grace"}, headers=admin)
        r = await client.get(f"/v1/customers/{org['id']}/summary", headers=bearer(app, "c", "billing_clerk"))
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["profile"]["id"] == org["id"]
        assert [c["name"] for c in body["contacts"]] == ["Grace"]
        assert body["churn_risk"]["customer_id"] == org["id"]
        assert (body["loyalty"]["customer_id"], body["loyalty"]["balance"]) == (org["id"], 0)
        assert body["consents"]["customer_id"] == org["id"]
        assert {e["kind"] for e in body["timeline"]} >= {"customer.created"}
        assert body["last_csat"] is None

    @pytest.mark.sqlite
    async def test_a_person_has_no_contacts(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        admin = bearer(app, "a", "admin")
        person = (await client.post("/v1/customers", json=customer_payload(), headers=admin)).json()
        r = await client.get(f"/v1/customers/{person['id']}/summary", headers=admin)
        assert r.status_code == 200
        assert r.json()["contacts"] == []

    async def test_auth_and_unknown(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        url = f"/v1/customers/{uuid.uuid4()}/summary"
        assert (await client.get(url)).status_code == 401
        assert (await client.get(url, headers=bearer(app, "p", "partner", kind="client"))).status_code == 403
        assert (await client.get(url, headers=bearer(app, "a", "admin"))).status_code == 404
