"""ticket.updated and ticket.commented (docs/domain.md §6.2): a PATCH of a ticket publishes exactly
one ticket.updated naming the fields it changed with their new values, keyed by the customer; a
PATCH that changes nothing publishes nothing; a move to closed is ticket.closed alone. Every
comment is a ticket.commented without its text, and a status the comment moved a ticket.updated."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from desk_helpers import agent, open_ticket, patch
from fastapi import FastAPI
from sqlalchemy import select

from tessera_shared.infra_tables import outbox

pytestmark = pytest.mark.sqlite


async def published(app: FastAPI) -> list[dict[str, Any]]:
    async with app.state.runtime.sessions() as s:
        stmt = select(outbox.c.event_type, outbox.c.key, outbox.c.envelope).order_by(outbox.c.seq)
        rows = (await s.execute(stmt)).all()
    return [{"type": t, "key": k, **json.loads(e)} for t, k, e in rows]


async def comment(client: httpx.AsyncClient, app: FastAPI, ticket_id: str, **body: object) -> None:
    r = await client.post(f"/v1/tickets/{ticket_id}/comments", json={"body": "Hello", **body}, headers=agent(app))
    assert r.status_code == 201, r.text


async def test_a_patch_is_one_ticket_updated_with_the_changed_fields(app: FastAPI, client: httpx.AsyncClient) -> None:
    t = await open_ticket(client, app)
    before = len(await published(app))
    r = await patch(client, app, t["id"], priority="high", subject=t["subject"], assignee_id="agent7")
    assert r.status_code == 200, r.text
    [event] = (await published(app))[before:]
    assert (event["type"], event["key"]) == ("ticket.updated", t["customer_id"])
    data = event["data"]
    # The subject was sent unchanged: not named.
    assert data["changes"] == {"priority": "high", "assignee_id": "agent7"}
    assert (data["ticket_id"], data["customer_id"]) == (t["id"], t["customer_id"])
    assert (data["version"], data["updated_by"]) == (r.json()["version"], "agent")


async def test_equal_values_publish_nothing(app: FastAPI, client: httpx.AsyncClient) -> None:
    t = await open_ticket(client, app)
    before = len(await published(app))
    r = await patch(client, app, t["id"], priority=t["priority"], subject=t["subject"], group=t.get("group"))
    assert r.status_code == 200, r.text
    assert (await published(app))[before:] == []


async def test_every_comment_is_ticket_commented_without_its_text_and_a_status_it_moves_ticket_updated(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    t = await open_ticket(client, app)
    before = len(await published(app))
    await comment(client, app, t["id"], public=False, body="internal: check logs")
    [note] = (await published(app))[before:]
    assert (note["type"], note["key"]) == ("ticket.commented", t["customer_id"])
    assert (note["data"]["ticket_id"], note["data"]["author_kind"], note["data"]["public"]) == (t["id"], "agent", False)
    before = len(await published(app))
    await comment(client, app, t["id"], body="We are on it")  # answering a new ticket opens it
    reply, moved = (await published(app))[before:]
    assert (reply["type"], reply["data"]["public"]) == ("ticket.commented", True)
    assert moved["type"] == "ticket.updated" and moved["data"]["changes"] == {"status": "open"}
    assert reply["data"]["comment_id"] != note["data"]["comment_id"]
    assert "check logs" not in json.dumps(note) and "We are on it" not in json.dumps([reply, moved])


async def test_a_close_is_ticket_closed_alone(app: FastAPI, client: httpx.AsyncClient) -> None:
    t = await open_ticket(client, app)
    await comment(client, app, t["id"], body="Fixed")
    assert (await patch(client, app, t["id"], status="solved")).status_code == 200
    before = len(await published(app))
    r = await patch(client, app, t["id"], status="closed")
    assert r.status_code == 200, r.text
    assert [e["type"] for e in (await published(app))[before:]] == ["ticket.closed"]
