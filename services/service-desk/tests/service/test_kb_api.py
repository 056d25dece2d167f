"""/v1/kb/articles: CRUD, full-text search (PostgreSQL tsvector / SQLite FTS5), counts, links."""

from __future__ import annotations

import uuid

import httpx
import pytest
from desk_helpers import agent, open_ticket, partner
from fastapi import FastAPI

from tessera_shared.testing.plugin import bearer

# Dialect branches (SQL that differs on SQLite): the whole module runs on both databases.
pytestmark = pytest.mark.sqlite

URL = "/v1/kb/articles"


async def write(client: httpx.AsyncClient, app: FastAPI, title: str, body: str, **extra: object) -> dict:
    r = await client.post(URL, json={"title": title, "body": body, **extra}, headers=agent(app))
    assert r.status_code == 201, r.text
    return r.json()


class TestArticles:
    async def test_crud(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        a = await write(client, app, "Reset a router", "Hold the button for ten seconds.", tags=["network", "network"])
        assert (a["tags"], a["author_id"], a["status"]) == (["network"], "agent", "published")
        r = await client.patch(
            f"{URL}/{a['id']}",
            json={"title": "Reset your router"},
            headers={**agent(app), "If-Match": f'"{a["id"]}.1"'},
        )
        assert (r.status_code, r.json()["version"]) == (200, 2)
        r = await client.patch(
            f"{URL}/{a['id']}", json={"title": "stale"}, headers={**agent(app), "If-Match": f'"{a["id"]}.1"'}
        )
        assert r.status_code == 412
        assert (await client.delete(f"{URL}/{a['id']}", headers=agent(app))).status_code == 204
        r = await client.get(f"{URL}/{a['id']}", headers=agent(app))
        assert (r.json()["status"], r.json()["view_count"]) == ("archived", 0)

    async def test_search_ranks_and_follows_edits(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        printer = await write(client, app, "Printer jams", "Open the tray and remove the paper.")
        await write(client, app, "Invoices by email", "Invoices are sent by email each month.")
        body_only = await write(client, app, "Office supplies", "Order toner and paper for the printer.")
        await write(client, app, "Printer draft", "not yet published printer notes", status="draft")
        r = await client.get(URL, params={"q": "printer"}, headers=agent(app))
        assert [x["id"] for x in r.json()["items"]] == [printer["id"], body_only["id"]]  # title beats body
        assert r.json()["next_cursor"] is None
        r = await client.get(URL, params={"q": "jammed printers"}, headers=agent(app))  # stemming
        assert [x["id"] for x in r.json()["items"]] == [printer["id"]]
        await client.patch(f"{URL}/{printer['id']}", json={"body": "Call the scanner hotline."}, headers=agent(app))
        r = await client.get(URL, params={"q": "hotline"}, headers=agent(app))
        assert [x["id"] for x in r.json()["items"]] == [printer["id"]]
        r = await client.get(URL, params={"q": 'paper" OR (NEAR'}, headers=agent(app))  # syntax is not injected
        assert r.status_code == 200

    async def test_views_feedback_and_ticket_links(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        a = await write(client, app, "VPN", "Reinstall the client.")
        t = await open_ticket(client, app)
        await client.get(f"{URL}/{a['id']}", headers=agent(app))
        await client.get(f"{URL}/{a['id']}", headers=bearer(app, "m", "sales_manager"))
        for helpful in (True, True, False):
            r = await client.post(f"{URL}/{a['id']}/feedback", json={"helpful": helpful}, headers=agent(app))
        assert (r.json()["helpful_count"], r.json()["not_helpful_count"], r.json()["helpfulness"]) == (2, 1, 0.6667)
        r = await client.post(f"{URL}/{a['id']}/tickets", json={"ticket_id": t["id"]}, headers=agent(app))
        assert r.status_code == 201
        again = await client.post(f"{URL}/{a['id']}/tickets", json={"ticket_id": t["id"]}, headers=agent(app))
        assert again.status_code == 200
        r = await client.get(f"{URL}/{a['id']}", headers=agent(app))
        assert (r.json()["view_count"], r.json()["solved_ticket_count"], r.json()["version"]) == (3, 1, 1)
        linked = (await client.get(URL, params={"ticket_id": t["id"]}, headers=agent(app))).json()["items"]
        assert [x["id"] for x in linked] == [a["id"]]
        detail = (await client.get(f"/v1/tickets/{t['id']}", headers=agent(app))).json()
        assert detail["solved_by_articles"] == [{"id": a["id"], "title": "VPN"}]

    async def test_errors(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        assert (await client.get(URL)).status_code == 401
        assert (await client.get(URL, headers=partner(app))).status_code == 403
        r = await client.post(URL, json={"title": "x", "body": "y"}, headers=bearer(app, "m", "sales_manager"))
        assert r.status_code == 403
        r = await client.post(URL, json={"title": "", "body": "y", "status": "archived"}, headers=agent(app))
        assert {e["field"] for e in r.json()["errors"]} == {"title", "status"}
        assert (await client.get(f"{URL}/{uuid.uuid4()}", headers=agent(app))).status_code == 404
        a = await write(client, app, "x", "y")
        r = await client.post(f"{URL}/{a['id']}/tickets", json={"ticket_id": str(uuid.uuid4())}, headers=agent(app))
        assert (r.status_code, r.json()["errors"][0]["field"]) == (422, "ticket_id")
        r = await client.patch(f"{URL}/{a['id']}", json={"title": None}, headers=agent(app))
        assert (r.status_code, r.json()["errors"][0]["field"]) == (422, "title")
        r = await client.get(URL, params={"q": "x", "cursor": "abc"}, headers=agent(app))
        assert (r.status_code, r.json()["errors"][0]["field"]) == (422, "cursor")
