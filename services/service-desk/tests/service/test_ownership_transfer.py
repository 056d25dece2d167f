"""The desk's share of a bulk ownership transfer: a leaving agent's open tickets move to another
agent with ticket.updated (changes.assignee_id); solved and closed tickets stay with them."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from desk_helpers import admin, open_ticket, patch
from fastapi import FastAPI
from sqlalchemy import select

from tessera_service_desk.transfers import TRANSFERS
from tessera_shared.infra_tables import outbox
from tessera_shared.ownership.service import run_transfers
from tessera_shared.testing.plugin import bearer

pytestmark = pytest.mark.sqlite


async def published(app: FastAPI, event_type: str) -> list[dict[str, Any]]:
    async with app.state.runtime.sessions() as s:
        stmt = select(outbox.c.key, outbox.c.envelope).where(outbox.c.event_type == event_type).order_by(outbox.c.seq)
        rows = (await s.execute(stmt)).all()
    return [{"key": k, **json.loads(e)} for k, e in rows]


async def test_open_tickets_move_to_the_new_assignee(app: FastAPI, client: httpx.AsyncClient) -> None:
    tickets = [await open_ticket(client, app) for _ in range(3)]
    for t in tickets:
        assert (await patch(client, app, t["id"], assignee_id="agent7")).status_code == 200
    assert (await patch(client, app, tickets[2]["id"], status="solved")).status_code == 200
    manager = bearer(app, "manager", "sales_manager")
    r = await client.post("/v1/ownership/transfers", json={"from_user": "agent7", "to_user": "agent8"}, headers=manager)
    assert r.status_code == 202, r.text
    job = r.json()
    assert job["resources"] == ["tickets"]
    before = len(await published(app, "ticket.updated"))
    assert await run_transfers(app.state.runtime.sessions, TRANSFERS) == 1
    done = (await client.get(f"/v1/ownership/transfers/{job['id']}", headers=admin(app))).json()
    assert (done["status"], done["counts"]) == ("succeeded", {"tickets": 2})
    assignees = [
        (await client.get(f"/v1/tickets/{t['id']}", headers=admin(app))).json()["assignee_id"] for t in tickets
    ]
    assert assignees == ["agent8", "agent8", "agent7"]
    moved = (await published(app, "ticket.updated"))[before:]
    assert sorted(e["data"]["ticket_id"] for e in moved) == sorted(t["id"] for t in tickets[:2])
    assert {json.dumps(e["data"]["changes"]) for e in moved} == {'{"assignee_id": "agent8"}'}
    assert {e["key"] for e in moved} == {t["customer_id"] for t in tickets[:2]}
    (announced,) = await published(app, "ownership.tickets_transferred")
    assert announced["data"]["counts"] == {"tickets": 2}
