"""Tags on tickets (issue 24 part 3): on create and PATCH, the list's ?tag=, the search language's
``tags``, the bulk POST /v1/tickets/tags, and ticket.opened / ticket.updated carrying them."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest
from desk_helpers import agent, open_ticket, partner, patch
from fastapi import FastAPI
from sqlalchemy import select

from tessera_service_desk.tickets.models import TICKET_TAGS
from tessera_shared.infra_tables import outbox

pytestmark = pytest.mark.sqlite


async def published(app: FastAPI) -> list[dict[str, Any]]:
    async with app.state.runtime.sessions() as s:
        stmt = select(outbox.c.event_type, outbox.c.envelope).order_by(outbox.c.seq)
        rows = (await s.execute(stmt)).all()
    return [{"type": t, **json.loads(e)} for t, e in rows]


async def tag_rows(app: FastAPI) -> set[tuple[str, str]]:
    async with app.state.runtime.sessions() as s:
        rows = (await s.execute(select(TICKET_TAGS.c.ticket_id, TICKET_TAGS.c.tag))).all()
    return {(str(i), t) for i, t in rows}


async def listed(client: httpx.AsyncClient, app: FastAPI, **params: str) -> list[str]:
    r = await client.get("/v1/tickets", params=params, headers=agent(app))
    assert r.status_code == 200, r.text
    return [t["id"] for t in r.json()["items"]]


async def test_tags_on_create_and_patch_are_normalised_listed_and_announced(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    t = await open_ticket(client, app, tags=[" vip ", "billing", "vip"])
    assert t["tags"] == ["billing", "vip"]
    other = await open_ticket(client, app)
    assert other["tags"] == []
    opened = [e for e in await published(app) if e["type"] == "ticket.opened"]
    assert [e["data"]["tags"] for e in opened] == [["billing", "vip"], []]
    assert await listed(client, app, tag="vip") == [t["id"]]
    assert await tag_rows(app) == {(t["id"], "billing"), (t["id"], "vip")}

    before = len(await published(app))
    r = await patch(client, app, t["id"], tags=["vip", "urgent"])
    assert r.status_code == 200, r.text
    assert r.json()["tags"] == ["urgent", "vip"]
    [event] = (await published(app))[before:]
    assert event["type"] == "ticket.updated"
    assert event["data"]["changes"] == {"tags": ["urgent", "vip"]}
    assert await listed(client, app, tag="billing") == []
    assert await listed(client, app, tag="urgent") == [t["id"]]
    assert await tag_rows(app) == {(t["id"], "urgent"), (t["id"], "vip")}

    # The same tags in another order change nothing: no event.
    before = len(await published(app))
    assert (await patch(client, app, t["id"], tags=["urgent", "vip", "vip"])).status_code == 200
    assert [e["type"] for e in (await published(app))[before:]] == []
    r = await patch(client, app, t["id"], tags=None)
    assert (r.status_code, r.json()["errors"][0]["field"]) == (422, "tags")
    r = await patch(client, app, t["id"], tags=["x" * 51])
    assert (r.status_code, r.json()["errors"][0]["field"]) == (422, "tags.0")


async def test_search_language_filters_on_tags(app: FastAPI, client: httpx.AsyncClient) -> None:
    a = await open_ticket(client, app, tags=["vip"])
    b = await open_ticket(client, app, tags=["billing"])
    await open_ticket(client, app, tags=["other"])

    async def search(op: str, value: Any) -> set[str]:
        body = {"filter_groups": [{"filters": [{"property": "tags", "operator": op, "value": value}]}]}
        r = await client.post("/v1/tickets/search", json=body, headers=agent(app))
        assert r.status_code == 200, r.text
        return {t["id"] for t in r.json()["items"]}

    assert await search("contains_token", "vip") == {a["id"]}
    r = await client.post(
        "/v1/tickets/search",
        json={"filter_groups": [{"filters": [{"property": "tags", "operator": "eq", "value": "vip"}]}]},
        headers=agent(app),
    )
    assert r.status_code == 422  # tags take contains_token (and its in), not eq
    assert b["id"] not in await search("contains_token", "vip")


async def test_bulk_add_and_remove(app: FastAPI, client: httpx.AsyncClient) -> None:
    a = await open_ticket(client, app, tags=["trial"])
    b = await open_ticket(client, app)
    c = await open_ticket(client, app, tags=["vip"])
    missing = str(uuid.uuid4())
    before = len(await published(app))
    body = {"ids": [a["id"], b["id"], c["id"], missing, a["id"]], "add": ["vip"], "remove": ["trial"]}
    r = await client.post("/v1/tickets/tags", json=body, headers=agent(app))
    assert r.status_code == 207, r.text
    results = r.json()["results"]
    assert [x["status"] for x in results] == ["updated", "updated", "unchanged", "error", "error"]
    assert (results[3]["problem"]["status"], results[4]["problem"]["status"]) == (404, 422)
    assert (r.json()["succeeded"], r.json()["failed"]) == (3, 2)
    changed = (await published(app))[before:]
    assert [(e["type"], e["data"]["ticket_id"], e["data"]["changes"]) for e in changed] == [
        ("ticket.updated", a["id"], {"tags": ["vip"]}),
        ("ticket.updated", b["id"], {"tags": ["vip"]}),
    ]
    assert set(await listed(client, app, tag="vip")) == {a["id"], b["id"], c["id"]}
    assert await listed(client, app, tag="trial") == []
    r = await client.get(f"/v1/tickets/{a['id']}", headers=agent(app))
    assert (r.json()["tags"], r.json()["version"]) == (["vip"], 2)

    ok = await client.post("/v1/tickets/tags", json={"ids": [a["id"]], "remove": ["vip"]}, headers=agent(app))
    assert ok.status_code == 200, ok.text
    assert ok.json()["results"] == [{"index": 0, "status": "updated", "id": a["id"], "problem": None}]


async def test_bulk_input_and_roles(app: FastAPI, client: httpx.AsyncClient) -> None:
    t = await open_ticket(client, app)
    r = await client.post("/v1/tickets/tags", json={"ids": [t["id"]]}, headers=agent(app))
    assert r.status_code == 422
    both = {"ids": [t["id"]], "add": ["a"], "remove": ["a"]}
    r = await client.post("/v1/tickets/tags", json=both, headers=agent(app))
    assert r.status_code == 422
    r = await client.post("/v1/tickets/tags", json={"ids": [], "add": ["a"]}, headers=agent(app))
    assert (r.status_code, r.json()["errors"][0]["field"]) == (422, "ids")
    r = await client.post("/v1/tickets/tags", json={"ids": [t["id"]], "add": ["a"]}, headers=partner(app))
    assert r.status_code == 403
    r = await client.get(f"/v1/tickets/{t['id']}", headers=agent(app))
    assert (r.json()["tags"], r.json()["version"]) == ([], 1)
