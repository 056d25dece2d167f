"""The customer pool: neglected customers return to it, reps claim them, managers assign them."""

from __future__ import annotations

import uuid
from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI

from services.customer.tests.helpers import create, deliver, events
from tessera_shared.db import utcnow
from tessera_shared.events.contracts import ActivityLogged
from tessera_shared.testing.plugin import bearer


def manager(app: FastAPI) -> dict[str, str]:
    return bearer(app, "boss", "sales_manager")


def activity(customer_id: str, owner_id: str, days_from_now: int) -> ActivityLogged:
    return ActivityLogged(
        activity_id=uuid.uuid4(),
        kind="call",
        subject="Check-in",
        customer_id=uuid.UUID(customer_id),
        owner_id=owner_id,
        occurred_at=utcnow() + timedelta(days=days_from_now),
    )


async def run_pool(client: httpx.AsyncClient, app: FastAPI, days_from_now: int) -> httpx.Response:
    as_of = (utcnow() + timedelta(days=days_from_now)).isoformat()
    return await client.post("/v1/customers/pool-returns", json={"as_of": as_of}, headers=manager(app))


class TestPoolReturns:
    @pytest.mark.sqlite
    async def test_inactive_owner_loses_customer_active_one_keeps_it(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        neglected = await create(client, app, owner_id="rep1")
        worked = await create(client, app, owner_id="rep2")
        unowned = await create(client, app)
        await deliver(app, activity(worked["id"], "rep2", days_from_now=30))
        await deliver(app, activity(neglected["id"], "rep9", days_from_now=30))  # not the owner: no effect
        r = await run_pool(client, app, days_from_now=91)
        assert r.status_code == 200, r.text
        assert (r.json()["returned"], r.json()["inactive_days"]) == (1, 90)
        h = manager(app)
        pool = (await client.get("/v1/customers", params={"unowned": "true"}, headers=h)).json()["items"]
        assert {c["id"] for c in pool} == {neglected["id"], unowned["id"]}
        after = (await client.get(f"/v1/customers/{neglected['id']}", headers=h)).json()
        assert (after["owner_id"], after["version"]) == (None, 2)
        updated = await events(app, "customer.updated")
        assert [(e["subject"], e["data"]["changed_fields"], e["data"]["owner_id"]) for e in updated] == [
            (neglected["id"], ["owner_id"], None)
        ]
        timeline = (
            await client.get(f"/v1/customers/{neglected['id']}/timeline", params={"kind": "customer.pooled"}, headers=h)
        ).json()["items"]
        assert timeline[0]["data"] == {"previous_owner_id": "rep1", "inactive_days": 90}
        assert (await run_pool(client, app, days_from_now=91)).json()["returned"] == 0  # nothing twice

    async def test_errors(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        assert (await client.post("/v1/customers/pool-returns", json={})).status_code == 401
        r = await client.post("/v1/customers/pool-returns", json={}, headers=bearer(app, "rep1", "sales_rep"))
        assert r.status_code == 403
        r = await client.post("/v1/customers/pool-returns", json={"as_of": "2026-01-01T00:00:00"}, headers=manager(app))
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "as_of"


class TestClaim:
    async def test_rep_claims_unowned_then_others_get_409(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        c = await create(client, app)
        url = f"/v1/customers/{c['id']}/claim"
        r = await client.post(url, json={}, headers=bearer(app, "rep1", "sales_rep"))
        assert r.status_code == 200, r.text
        assert (r.json()["owner_id"], r.json()["version"]) == ("rep1", 2)
        again = await client.post(url, json={}, headers=bearer(app, "rep1", "sales_rep"))
        assert again.status_code == 200 and again.json()["version"] == 2  # a retried claim changes nothing
        r = await client.post(url, json={}, headers=bearer(app, "rep2", "sales_rep"))
        assert r.status_code == 409 and r.json()["owner_id"] == "rep1"
        assert r.json()["type"] == "urn:tessera:problem:customer-owned"
        assert [e["data"]["owner_id"] for e in await events(app, "customer.updated")] == ["rep1"]

    @pytest.mark.sqlite
    async def test_manager_assigns_from_pool(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        c = await create(client, app)
        r = await client.post(f"/v1/customers/{c['id']}/claim", json={"owner_id": "rep2"}, headers=manager(app))
        assert r.status_code == 200 and r.json()["owner_id"] == "rep2"
        timeline = (
            await client.get(
                f"/v1/customers/{c['id']}/timeline", params={"kind": "customer.claimed"}, headers=manager(app)
            )
        ).json()["items"]
        assert timeline[0]["data"] == {"owner_id": "rep2", "actor": "boss"}

    async def test_errors(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        c = await create(client, app)
        url = f"/v1/customers/{c['id']}/claim"
        assert (await client.post(url, json={})).status_code == 401
        assert (await client.post(url, json={}, headers=bearer(app, "ag", "support_agent"))).status_code == 403
        r = await client.post(url, json={"owner_id": "rep2"}, headers=bearer(app, "rep1", "sales_rep"))
        assert r.status_code == 403
        r = await client.post(url, json={"owner": "rep1"}, headers=bearer(app, "rep1", "sales_rep"))
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "owner"
        r = await client.post(url, json={}, headers={**bearer(app, "rep1", "sales_rep"), "If-Match": '"x.9"'})
        assert r.status_code == 412
        r = await client.post(f"/v1/customers/{uuid.uuid4()}/claim", json={}, headers=bearer(app, "rep1", "sales_rep"))
        assert r.status_code == 404
        await client.post(
            f"/v1/customers/{c['id']}/erase", json={"reason": "asked"}, headers=bearer(app, "dpo", "admin")
        )
        assert (await client.post(url, json={}, headers=bearer(app, "rep1", "sales_rep"))).status_code == 409
