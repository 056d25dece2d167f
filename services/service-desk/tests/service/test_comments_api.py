"""/v1/tickets/{id}/comments: public replies, internal notes, first and next response."""

from __future__ import annotations

import uuid

import httpx
import pytest
from desk_helpers import agent, open_ticket, partner, patch
from fastapi import FastAPI

from tessera_shared.testing.plugin import bearer


async def comment(client: httpx.AsyncClient, app: FastAPI, ticket_id: str, **body: object) -> httpx.Response:
    return await client.post(f"/v1/tickets/{ticket_id}/comments", json={"body": "Hello", **body}, headers=agent(app))


class TestCreateComment:
    async def test_first_public_agent_reply_is_the_first_response(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        t = await open_ticket(client, app)
        r = await comment(client, app, t["id"], public=False, body="internal: check logs")
        assert r.status_code == 201, r.text
        detail = (await client.get(f"/v1/tickets/{t['id']}", headers=agent(app))).json()
        assert detail["first_response_at"] is None
        assert detail["status"] == "new"
        r = await comment(client, app, t["id"], body="We are on it")
        detail = (await client.get(f"/v1/tickets/{t['id']}", headers=agent(app))).json()
        assert detail["first_response_at"] == r.json()["created_at"]
        assert detail["status"] == "open"  # answering a new ticket opens it
        assert detail["sla"]["first_response"]["state"] == "met"

    async def test_customer_message_starts_next_response_and_wakes_pending(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        t = await open_ticket(client, app)
        await comment(client, app, t["id"], body="Please send a photo")
        await patch(client, app, t["id"], status="pending")
        paused = (await client.get(f"/v1/tickets/{t['id']}", headers=agent(app))).json()
        assert paused["sla"]["resolution"]["state"] == "paused"
        r = await comment(client, app, t["id"], body="Here it is", author_kind="customer")
        assert r.json()["author_kind"] == "customer"
        detail = (await client.get(f"/v1/tickets/{t['id']}", headers=agent(app))).json()
        assert detail["status"] == "open"
        assert detail["sla"]["next_response"]["state"] in ("running", "breached")
        await comment(client, app, t["id"], body="Thanks, fixed")
        detail = (await client.get(f"/v1/tickets/{t['id']}", headers=agent(app))).json()
        assert detail["sla"]["next_response"]["state"] == "not_applicable"

    async def test_closed_ticket_takes_no_comment(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        t = await open_ticket(client, app)
        await patch(client, app, t["id"], status="closed")
        r = await comment(client, app, t["id"])
        assert r.status_code == 409
        problem = r.json()
        assert (problem["type"], problem["allowed"]) == ("urn:tessera:problem:ticket-closed", [])
        assert problem["detail"] == "a closed ticket takes no more comments; open a new ticket"

    async def test_errors(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        t = await open_ticket(client, app)
        url = f"/v1/tickets/{t['id']}/comments"
        assert (await client.post(url, json={"body": "x"})).status_code == 401
        assert (
            await client.post(url, json={"body": "x"}, headers=bearer(app, "c", "billing_clerk"))
        ).status_code == 403
        assert (await comment(client, app, str(uuid.uuid4()))).status_code == 404
        r = await comment(client, app, t["id"], body="", mood="angry")
        assert {e["field"] for e in r.json()["errors"]} == {"body", "mood"}
        r = await comment(client, app, t["id"], author_kind="customer", public=False)
        assert (r.status_code, r.json()["errors"][0]["field"]) == (422, "public")


class TestListComments:
    @pytest.mark.sqlite
    async def test_internal_notes_only_for_the_desk(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        t = await open_ticket(client, app)
        await comment(client, app, t["id"], body="public reply")
        await comment(client, app, t["id"], body="internal note", public=False)
        url = f"/v1/tickets/{t['id']}/comments"
        desk = (await client.get(url, headers=agent(app))).json()["items"]
        assert [c["body"] for c in desk] == ["public reply", "internal note"]
        sales = (await client.get(url, headers=bearer(app, "m", "sales_manager"))).json()["items"]
        assert [c["body"] for c in sales] == ["public reply"]

    async def test_errors(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        assert (await client.get(f"/v1/tickets/{uuid.uuid4()}/comments")).status_code == 401
        assert (await client.get(f"/v1/tickets/{uuid.uuid4()}/comments", headers=partner(app))).status_code == 403
        assert (await client.get(f"/v1/tickets/{uuid.uuid4()}/comments", headers=agent(app))).status_code == 404
