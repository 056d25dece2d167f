"""GET /v1/customers/{id}/service-summary: the desk's part of the 360 view, with the ticket list's rules."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from desk_helpers import PROBLEM, agent, open_ticket, partner, patch
from fastapi import FastAPI

from tessera_service_desk.summary import router as summary_router
from tessera_service_desk.surveys.router import STAFF_READERS
from tessera_service_desk.tickets.rules import OPEN_STATUSES
from tessera_shared.testing.plugin import bearer

# Every role GET /v1/tickets admits (admin always may).
TICKET_READERS = ("support_agent", "service", "sales_manager", "sales_rep", "billing_clerk", "finance_manager")


def url(customer_id: str) -> str:
    return f"/v1/customers/{customer_id}/service-summary"


def as_(app: FastAPI, role: str) -> dict[str, str]:
    return bearer(app, f"who-{role}", role, kind="client" if role in ("service", "partner") else "user")


async def summary(client: httpx.AsyncClient, customer_id: str, headers: dict[str, str]) -> dict[str, Any]:
    r = await client.get(url(customer_id), headers=headers)
    assert r.status_code == 200, r.text
    return r.json()


async def close_and_answer(client: httpx.AsyncClient, app: FastAPI, customer_id: str, csat: int) -> str:
    t = await open_ticket(client, app, customer_id=customer_id)
    closed = (await patch(client, app, t["id"], status="closed")).json()
    token = closed["survey_url"].split("token=", 1)[1]
    r = await client.post(f"/v1/surveys/{closed['survey_id']}/answer", params={"token": token}, json={"csat": csat})
    assert r.status_code == 200, r.text
    return t["id"]


@pytest.mark.sqlite  # the summary's queries on both databases
async def test_open_recent_and_escalated(app: FastAPI, client: httpx.AsyncClient) -> None:
    cid = str(uuid.uuid4())
    first = await open_ticket(client, app, customer_id=cid, assignee_id="someone-else")
    second = await open_ticket(client, app, customer_id=cid)
    solved = await open_ticket(client, app, customer_id=cid)
    closed = await open_ticket(client, app, customer_id=cid)
    for ticket in (second, closed):
        r = await client.post(f"/v1/tickets/{ticket['id']}/escalations", json={"reason": "VIP"}, headers=agent(app))
        assert r.status_code == 200, r.text
    assert (await patch(client, app, second["id"], status="pending")).status_code == 200
    assert (await patch(client, app, solved["id"], status="solved")).status_code == 200
    assert (await patch(client, app, closed["id"], status="closed")).status_code == 200
    await open_ticket(client, app)  # another customer's

    body = await summary(client, cid, agent(app))
    every = (await client.get("/v1/tickets", params={"customer_id": cid}, headers=agent(app))).json()["items"]
    # Only the open tickets, exactly as GET /v1/tickets shows them (the agent sees others' tickets too).
    assert body["open_tickets"] == [t for t in every if t["status"] in OPEN_STATUSES]
    assert {t["id"] for t in body["open_tickets"]} == {first["id"], second["id"]}
    assert [t["id"] for t in body["recent_tickets"]][:1] == [closed["id"]]  # the latest change first
    assert {t["id"] for t in body["recent_tickets"]} == {first["id"], second["id"], solved["id"], closed["id"]}
    assert body["escalated"] == 2  # a closed ticket that was escalated counts too
    assert (body["customer_id"], body["truncated"], body["last_csat"]) == (cid, False, None)


@pytest.mark.sqlite
async def test_last_csat_is_the_latest_answer_for_survey_readers(app: FastAPI, client: httpx.AsyncClient) -> None:
    cid = str(uuid.uuid4())
    await close_and_answer(client, app, cid, csat=2)
    await close_and_answer(client, app, cid, csat=5)
    await close_and_answer(client, app, str(uuid.uuid4()), csat=1)  # another customer's
    unanswered = await open_ticket(client, app, customer_id=cid)
    assert (await patch(client, app, unanswered["id"], status="closed")).status_code == 200  # survey sent, no answer
    for role in ("support_agent", "sales_manager", "admin"):
        assert (await summary(client, cid, as_(app, role)))["last_csat"] == 5, role
    # Ticket readers who may not read surveys get the tickets but not the score.
    for role in ("sales_rep", "billing_clerk", "finance_manager", "service"):
        body = await summary(client, cid, as_(app, role))
        assert (body["last_csat"], len(body["recent_tickets"])) == (None, 3), role


async def test_roles_are_the_ticket_lists(app: FastAPI, client: httpx.AsyncClient) -> None:
    cid = str(uuid.uuid4())
    await open_ticket(client, app, customer_id=cid)
    r = await client.get(url(cid))
    assert (r.status_code, r.headers["content-type"]) == (401, PROBLEM)
    r = await client.get(url(cid), headers=partner(app))
    assert (r.status_code, r.headers["content-type"]) == (403, PROBLEM)
    for role in TICKET_READERS:
        assert len((await summary(client, cid, as_(app, role)))["open_tickets"]) == 1, role
    assert (await client.get(url("nope"), headers=agent(app))).status_code == 422
    empty = await summary(client, str(uuid.uuid4()), agent(app))
    assert (empty["open_tickets"], empty["recent_tickets"], empty["escalated"]) == ([], [], 0)

    doc = app.openapi()
    tickets, mine = (
        doc["paths"]["/v1/tickets"]["get"],
        doc["paths"]["/v1/customers/{customer_id}/service-summary"]["get"],
    )
    assert mine["security"] == tickets["security"]  # require_roles' scopes: the same roles as GET /v1/tickets
    assert {"200", "401", "403"} <= set(mine["responses"])
    assert mine["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ServiceSummary"
    }
    assert summary_router.SURVEY_READERS == STAFF_READERS


async def test_truncated_when_more_open_tickets_than_listed(
    app: FastAPI, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(summary_router, "OPEN_LISTED", 2)
    cid = str(uuid.uuid4())
    ids = [(await open_ticket(client, app, customer_id=cid))["id"] for _ in range(3)]
    body = await summary(client, cid, agent(app))
    assert [t["id"] for t in body["open_tickets"]] == sorted(ids)[:2]  # id order
    assert body["truncated"] is True
