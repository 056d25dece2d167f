"""SLA policies, the breach job with an as_of clock, escalation and the pause credit."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx
import orjson
import pytest
from desk_helpers import admin, agent, count, events, open_ticket, partner, patch
from fastapi import FastAPI
from sqlalchemy import select, update
from sqlmodel import col

from tessera_service_desk.known_customers.models import KnownCustomer
from tessera_service_desk.sla.models import EscalationNotification, SlaBreach
from tessera_service_desk.tickets.models import Ticket, TicketStatusChange
from tessera_shared.infra_tables import outbox
from tessera_shared.testing.plugin import bearer

# Dialect branches (SQL that differs on SQLite): the whole module runs on both databases.
pytestmark = pytest.mark.sqlite


def policy(**overrides: object) -> dict[str, object]:
    return {
        "priority": "high",
        "service_level": "gold",
        "tier": "key",
        "first_response_minutes": 30,
        "next_response_minutes": 60,
        "resolution_minutes": 240,
        "business_hours": False,
        **overrides,
    }


async def scan(client: httpx.AsyncClient, app: FastAPI, as_of: datetime) -> httpx.Response:
    return await client.post("/v1/tickets/breach-scan", params={"as_of": as_of.isoformat()}, headers=admin(app))


class TestPolicies:
    async def test_crud_and_matching(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        r = await client.post("/v1/sla-policies", json=policy(), headers=admin(app))
        assert r.status_code == 201, r.text
        created = r.json()
        r = await client.post("/v1/sla-policies", json=policy(), headers=admin(app))
        assert (r.status_code, r.json()["type"]) == (409, "urn:tessera:problem:conflict")
        assert r.json()["detail"] == "a policy for this priority, service level and tier exists; PATCH it"
        customer = uuid.uuid4()
        r = await client.put(
            f"/v1/sla-policies/agreements/{customer}", json={"service_level": "gold"}, headers=admin(app)
        )
        assert r.json() == {"customer_id": str(customer), "service_level": "gold", "tier": "ordinary"}
        async with app.state.runtime.sessions() as s:
            await s.execute(update(KnownCustomer).where(col(KnownCustomer.customer_id) == customer).values(tier="key"))
            await s.commit()
        t = await open_ticket(client, app, customer_id=str(customer), priority="high")
        detail = (await client.get(f"/v1/tickets/{t['id']}", headers=agent(app))).json()
        assert detail["sla"]["resolution"]["target_minutes"] == 240
        assert detail["sla"]["business_hours"] is False
        url = f"/v1/sla-policies/{created['id']}"
        read = await client.get(url, headers=agent(app))
        assert (read.status_code, read.json()["id"], read.json()["version"]) == (200, created["id"], 1)
        r = await client.patch(url, json={"resolution_minutes": 300}, headers={**admin(app), "If-Match": '"x.1"'})
        assert r.status_code == 412
        r = await client.patch(url, json={"resolution_minutes": 300}, headers=admin(app))
        assert (r.json()["resolution_minutes"], r.json()["version"]) == (300, 2)
        listed = (await client.get("/v1/sla-policies", headers=agent(app))).json()["items"]
        assert [p["id"] for p in listed] == [created["id"]]
        assert (await client.delete(url, headers=admin(app))).status_code == 204
        assert (await client.get(url, headers=agent(app))).status_code == 404

    async def test_errors(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        assert (await client.post("/v1/sla-policies", json=policy())).status_code == 401
        assert (await client.post("/v1/sla-policies", json=policy(), headers=agent(app))).status_code == 403
        assert (await client.get("/v1/sla-policies", headers=partner(app))).status_code == 403
        r = await client.post("/v1/sla-policies", json=policy(tier="gold", resolution_minutes=0), headers=admin(app))
        assert {e["field"] for e in r.json()["errors"]} == {"tier", "resolution_minutes"}
        assert (await client.get(f"/v1/sla-policies/{uuid.uuid4()}", headers=agent(app))).status_code == 404


class TestBreachScan:
    async def test_each_breach_detected_once_and_escalated(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        t = await open_ticket(client, app, priority="urgent")
        soon = datetime.now(UTC) + timedelta(minutes=1)
        assert (await scan(client, app, soon)).json()["processed"] == 0
        later = datetime.now(UTC) + timedelta(days=30)
        r = await scan(client, app, later)
        assert r.status_code == 200
        assert r.json()["processed"] == 1
        assert (await scan(client, app, later + timedelta(days=1))).json()["processed"] == 0
        kinds = await events(app)
        assert kinds.count("sla.breached") == 2  # first response and resolution
        assert kinds.count("ticket.escalated") == 1
        detail = (await client.get(f"/v1/tickets/{t['id']}", headers=agent(app))).json()
        assert detail["escalation_level"] == 1
        assert detail["sla"]["breached"] is True
        notes = (await client.get("/v1/tickets/notifications", params={"group": "tier2"}, headers=agent(app))).json()[
            "items"
        ]
        assert [n["ticket_id"] for n in notes] == [t["id"]]
        assert await count(app, SlaBreach) == 2
        assert await count(app, EscalationNotification) == 1
        await patch(client, app, t["id"], status="closed")
        async with app.state.runtime.sessions() as s:
            envelope = (
                await s.execute(select(outbox.c.envelope).where(outbox.c.event_type == "ticket.closed"))
            ).scalar_one()
        assert orjson.loads(envelope)["data"]["sla_breached"] is True

    async def test_pending_ticket_is_not_breached_and_reopen_is_credited(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        t = await open_ticket(client, app, priority="urgent")
        await client.post(f"/v1/tickets/{t['id']}/comments", json={"body": "Need info"}, headers=agent(app))
        await patch(client, app, t["id"], status="pending")
        assert (await scan(client, app, datetime.now(UTC) + timedelta(days=30))).json()["processed"] == 0
        # A month in pending, then reopened: the clock resumes with its remaining budget.
        month_ago = datetime.now(UTC) - timedelta(days=30)
        async with app.state.runtime.sessions() as s:
            tid = uuid.UUID(t["id"])
            await s.execute(
                update(Ticket).where(col(Ticket.id) == tid).values(created_at=month_ago, first_response_at=month_ago)
            )
            await s.execute(
                update(TicketStatusChange).where(col(TicketStatusChange.ticket_id) == tid).values(at=month_ago)
            )
            await s.commit()
        r = await patch(client, app, t["id"], status="open")
        resolution = r.json()["sla"]["resolution"]
        assert resolution["state"] == "running"
        assert resolution["remaining_business_minutes"] > 0
        assert (await scan(client, app, datetime.now(UTC))).json()["processed"] == 0
        assert await count(app, SlaBreach) == 0

    async def test_errors(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        assert (await client.post("/v1/tickets/breach-scan")).status_code == 401
        assert (await client.post("/v1/tickets/breach-scan", headers=agent(app))).status_code == 403
        r = await client.post("/v1/tickets/breach-scan", params={"as_of": "2026-01-05T09:00:00"}, headers=admin(app))
        assert (r.status_code, r.json()["errors"][0]["field"]) == (422, "as_of")
        r = await client.post("/v1/tickets/auto-close", params={"as_of": "0001-01-01T00:00:00Z"}, headers=admin(app))
        assert (r.status_code, r.json()["errors"][0]["field"]) == (422, "as_of")  # no clock arithmetic overflow
        r = await client.get("/v1/tickets/notifications", headers=bearer(app, "c", "billing_clerk"))
        assert r.status_code == 403


class TestAutoClose:
    async def test_solved_tickets_close_after_the_delay(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        t = await open_ticket(client, app)
        await patch(client, app, t["id"], status="solved")
        r = await client.post("/v1/tickets/auto-close", headers=admin(app))
        assert r.json()["processed"] == 0
        r = await client.post(
            "/v1/tickets/auto-close",
            params={"as_of": (datetime.now(UTC) + timedelta(days=8)).isoformat()},
            headers=admin(app),
        )
        assert r.json()["processed"] == 1
        detail = (await client.get(f"/v1/tickets/{t['id']}", headers=agent(app))).json()
        assert detail["status"] == "closed"
        assert detail["survey_id"] is not None
        assert (await events(app)).count("ticket.closed") == 1
        assert (await client.post("/v1/tickets/auto-close", headers=agent(app))).status_code == 403


class TestManualEscalation:
    async def test_level_up_notifies_next_tier(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        t = await open_ticket(client, app)
        url = f"/v1/tickets/{t['id']}/escalations"
        r = await client.post(
            url, json={"reason": "VIP on the phone"}, headers={**agent(app), "If-Match": f'"{t["id"]}.1"'}
        )
        assert (r.status_code, r.json()["escalation_level"], r.json()["version"]) == (200, 1, 2)
        r = await client.post(url, json={"reason": "still angry"}, headers=agent(app))
        assert r.json()["escalation_level"] == 2
        notes = (
            await client.get("/v1/tickets/notifications", params={"ticket_id": t["id"]}, headers=agent(app))
        ).json()["items"]
        assert [(n["level"], n["recipient_group"]) for n in notes] == [(1, "tier2"), (2, "tier3")]
        assert "VIP on the phone (by agent)" in notes[0]["message"]
        assert (await events(app)).count("ticket.escalated") == 2

    async def test_errors(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        t = await open_ticket(client, app)
        url = f"/v1/tickets/{t['id']}/escalations"
        assert (await client.post(url, json={"reason": "x"})).status_code == 401
        assert (
            await client.post(url, json={"reason": "x"}, headers=bearer(app, "m", "sales_manager"))
        ).status_code == 403
        r = await client.post(f"/v1/tickets/{uuid.uuid4()}/escalations", json={"reason": "x"}, headers=agent(app))
        assert r.status_code == 404
        r = await client.post(url, json={"reason": ""}, headers=agent(app))
        assert (r.status_code, r.json()["errors"][0]["field"]) == (422, "reason")
        r = await client.post(url, json={"reason": "x"}, headers={**agent(app), "If-Match": '"stale.9"'})
        assert r.status_code == 412
        await patch(client, app, t["id"], status="solved")
        r = await client.post(url, json={"reason": "x"}, headers=agent(app))
        problem = r.json()
        assert (r.status_code, problem["type"]) == (409, "urn:tessera:problem:invalid-transition")
        assert (problem["current"], problem["requested"], problem["allowed"]) == ("solved", "escalated", [])
        assert (problem["detail"], "current_status" in problem) == ("a solved ticket cannot be escalated", False)


class TestScheduledJobs:
    async def test_jobs_in_the_spec_run_with_any_clock(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        from tessera_shared.jobs import run_job_once

        t = await open_ticket(client, app, priority="urgent")
        await patch(client, app, t["id"], status="solved")
        other = await open_ticket(client, app, priority="urgent")
        jobs = {job.name: job for job in app.state.runtime.spec.jobs}
        assert set(jobs) == {
            "service-desk-sla-breaches",
            "service-desk-auto-close",
            "service-desk-exports",
            "service-desk-ownership",
        }
        later = datetime.now(UTC) + timedelta(days=30)
        for job in jobs.values():
            assert await run_job_once(job, app.state.runtime.sessions, later)
        closed = (await client.get(f"/v1/tickets/{t['id']}", headers=agent(app))).json()
        breached = (await client.get(f"/v1/tickets/{other['id']}", headers=agent(app))).json()
        assert (closed["status"], breached["escalation_level"]) == ("closed", 1)
