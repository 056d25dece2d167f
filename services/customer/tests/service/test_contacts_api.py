"""Contacts of organisation customers: create, list, change, remove; owner rules."""

from __future__ import annotations

import uuid

import httpx
import pytest
from fastapi import FastAPI

from services.customer.tests.helpers import create
from tessera_shared.testing.plugin import bearer

CONTACT = {
    "name": "Grace Hopper",
    "title": "CTO",
    "department": "IT",
    "email": "Grace@Acme.io",
    "buying_role": "decision_maker",
}


class TestContacts:
    @pytest.mark.sqlite
    async def test_owner_adds_lists_changes_and_removes(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        org = await create(client, app, ("rep1", "sales_rep"), kind="organization", name="Acme")
        h = bearer(app, "rep1", "sales_rep")
        url = f"/v1/customers/{org['id']}/contacts"
        r = await client.post(url, json=CONTACT, headers=h)
        assert r.status_code == 201, r.text
        contact = r.json()
        assert (contact["email"], contact["buying_role"]) == ("grace@acme.io", "decision_maker")
        listed = (await client.get(url, headers=bearer(app, "agent", "support_agent"))).json()
        assert [c["id"] for c in listed["items"]] == [contact["id"]]
        one = await client.get(f"{url}/{contact['id']}", headers=bearer(app, "agent", "support_agent"))
        assert (one.status_code, one.json()["email"], one.headers["etag"]) == (
            200,
            "grace@acme.io",
            f'"{contact["id"]}.1"',
        )
        r = await client.patch(
            f"{url}/{contact['id']}",
            json={"buying_role": "influencer"},
            headers={**h, "If-Match": f'"{contact["id"]}.1"'},
        )
        assert r.status_code == 200 and r.json()["version"] == 2
        r = await client.patch(
            f"{url}/{contact['id']}", json={"title": "CEO"}, headers={**h, "If-Match": f'"{contact["id"]}.1"'}
        )
        assert r.status_code == 412
        assert (await client.delete(f"{url}/{contact['id']}", headers=h)).status_code == 204
        assert (await client.get(f"{url}/{contact['id']}", headers=h)).status_code == 404

    async def test_rules_and_errors(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        org = await create(client, app, ("rep1", "sales_rep"), kind="organization", name="Acme")
        person = await create(client, app)
        url = f"/v1/customers/{org['id']}/contacts"
        assert (await client.post(url, json=CONTACT)).status_code == 401
        assert (await client.post(url, json=CONTACT, headers=bearer(app, "rep2", "sales_rep"))).status_code == 403
        admin = bearer(app, "a", "admin")
        r = await client.post(url, json={**CONTACT, "buying_role": "boss"}, headers=admin)
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "buying_role"
        r = await client.post(f"/v1/customers/{person['id']}/contacts", json=CONTACT, headers=admin)
        assert r.status_code == 409
        assert (r.json()["type"], r.json()["detail"]) == (
            "urn:tessera:problem:conflict",
            "only organisations have contacts",
        )
        assert (
            await client.post(f"/v1/customers/{uuid.uuid4()}/contacts", json=CONTACT, headers=admin)
        ).status_code == 404
