"""PATCH /v1/customers/{id} (owner rules, If-Match, version, event) and the list's filters."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from services.customer.tests.helpers import PROBLEM, create, events
from tessera_shared.testing.plugin import bearer

PROFILE: dict[str, Any] = {
    "kind": "organization",
    "name": "Acme GmbH",
    "relation": "intermediary",
    "relationship_type": "partner",
    "channels": [{"kind": "postal", "value": "Hauptstr. 1, Berlin", "label": "billing"}],
    "segmentation": {
        "geographic": {"country": "DE", "city": "Berlin"},
        "demographic": {"age_band": "30-39"},
        "psychographic": {"preferences": ["eco"]},
    },
    "custom_attributes": {"vat_id": "DE123"},
    "tags": ["b2b", "fair-2026"],
}


class TestPatchCustomer:
    @pytest.mark.sqlite
    async def test_owner_changes_own_customer_and_version_bumps(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        mine = await create(client, app, ("rep1", "sales_rep"))
        h = bearer(app, "rep1", "sales_rep")
        r = await client.patch(
            f"/v1/customers/{mine['id']}",
            json={"name": "Ada King", "relation": "consumer", "segmentation": {"geographic": {"country": "GB"}}},
            headers={**h, "If-Match": f'"{mine["id"]}.1"'},
        )
        assert r.status_code == 200, r.text
        body = r.json()
        assert (body["name"], body["relation"], body["version"]) == ("Ada King", "consumer", 2)
        assert body["segmentation"]["geographic"]["country"] == "GB"
        assert r.headers["etag"] == f'"{mine["id"]}.2"'
        updated = await events(app, "customer.updated")
        assert [e["data"]["changed_fields"] for e in updated] == [["name", "relation", "country"]]
        assert updated[0]["subject"] == mine["id"]

    async def test_stale_if_match_is_412_and_changes_nothing(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        c = await create(client, app)
        h = bearer(app, "m", "sales_manager")
        r = await client.patch(f"/v1/customers/{c['id']}", json={"name": "X"}, headers={**h, "If-Match": '"nope.1"'})
        assert r.status_code == 412
        assert r.json()["current_etag"] == f'"{c["id"]}.1"'
        assert (await client.get(f"/v1/customers/{c['id']}", headers=h)).json()["name"] == c["name"]

    async def test_other_rep_reads_only(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        c = await create(client, app, ("rep1", "sales_rep"))
        r = await client.patch(f"/v1/customers/{c['id']}", json={"name": "X"}, headers=bearer(app, "rep2", "sales_rep"))
        assert r.status_code == 403
        assert (
            await client.get(f"/v1/customers/{c['id']}", headers=bearer(app, "rep2", "sales_rep"))
        ).status_code == 200

    async def test_rep_may_not_hand_over_but_manager_may(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        c = await create(client, app, ("rep1", "sales_rep"))
        r = await client.patch(
            f"/v1/customers/{c['id']}", json={"owner_id": "rep2"}, headers=bearer(app, "rep1", "sales_rep")
        )
        assert r.status_code == 403
        r = await client.patch(
            f"/v1/customers/{c['id']}", json={"owner_id": "rep2"}, headers=bearer(app, "m", "sales_manager")
        )
        assert r.status_code == 200 and r.json()["owner_id"] == "rep2"

    async def test_auth_and_input_errors(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        c = await create(client, app)
        url = f"/v1/customers/{c['id']}"
        assert (await client.patch(url, json={"name": "X"})).status_code == 401
        assert (
            await client.patch(url, json={"name": "X"}, headers=bearer(app, "c", "billing_clerk"))
        ).status_code == 403
        h = bearer(app, "a", "admin")
        r = await client.patch(url, json={"status": "loyal", "name": None, "relation": "friend"}, headers=h)
        assert r.status_code == 422 and r.headers["content-type"] == PROBLEM
        assert {e["field"] for e in r.json()["errors"]} == {"status", "name", "relation"}
        assert (await client.patch(f"/v1/customers/{uuid.uuid4()}", json={"name": "X"}, headers=h)).status_code == 404

    async def test_unchanged_patch_keeps_version_and_publishes_nothing(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        c = await create(client, app)
        r = await client.patch(f"/v1/customers/{c['id']}", json={"name": c["name"]}, headers=bearer(app, "a", "admin"))
        assert r.json()["version"] == 1
        assert await events(app, "customer.updated") == []


class TestListFilters:
    async def test_filters_by_classification_tag_and_search(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        h = bearer(app, "a", "admin")
        acme = await create(client, app, **PROFILE, email="info@acme.io", phone="+49 30 1234567")
        await create(client, app, name="Zeta AG", kind="organization", tags=["b2c"])
        assert acme["channels"][0]["label"] == "billing" and acme["custom_attributes"] == {"vat_id": "DE123"}

        async def ids(**params: str) -> list[str]:
            r = await client.get("/v1/customers", params=params, headers=h)
            assert r.status_code == 200, r.text
            return [c["id"] for c in r.json()["items"]]

        assert await ids(tag="fair-2026") == [acme["id"]]
        assert await ids(relation="intermediary", country="DE", city="Berlin") == [acme["id"]]
        assert await ids(q="ACME ltd") == [acme["id"]]
        assert await ids(q="info@acme") == [acme["id"]]
        assert await ids(q="+49301234") == [acme["id"]]
        assert await ids(q="nobody") == []
        assert await ids(age_band="30-39", kind="organization") == [acme["id"]]

    async def test_bad_filter_values_are_422(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        h = bearer(app, "a", "admin")
        r = await client.get("/v1/customers", params={"status": "vip", "country": "germany"}, headers=h)
        assert r.status_code == 422
        assert {e["field"] for e in r.json()["errors"]} == {"status", "country"}
