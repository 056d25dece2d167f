"""POST /v1/tickets/search (issue 23, item 2) and ?fields= on the tickets' reads (item 3)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from desk_helpers import PROBLEM, agent, open_ticket, partner
from fastapi import FastAPI


def flt(prop: str, op: str, value: Any = None) -> dict[str, Any]:
    return {"property": prop, "operator": op, "value": value}


@pytest.mark.sqlite
async def test_or_of_groups_free_text_and_sort(app: FastAPI, client: httpx.AsyncClient) -> None:
    urgent = await open_ticket(client, app, subject="Server down", priority="urgent")
    low = await open_ticket(client, app, subject="Server slow", priority="low", category="fault")
    await open_ticket(client, app, subject="Invoice question", priority="low")
    body = {
        "filter_groups": [
            {"filters": [flt("priority", "eq", "urgent")]},
            {"filters": [flt("priority", "in", ["low"]), flt("category", "eq", "fault")]},
        ],
        "query": "Server",
        "sorts": [{"property": "created_at", "direction": "desc"}],
    }
    r = await client.post("/v1/tickets/search", json=body, headers=agent(app))
    assert r.status_code == 200, r.text
    assert [t["id"] for t in r.json()["items"]] == [low["id"], urgent["id"]]
    assert r.json()["items"][0]["allowed_transitions"]  # as the list shows a ticket
    r = await client.post("/v1/tickets/search", json={"query": "Server"}, headers=partner(app))
    assert r.status_code == 403


async def test_values_are_parsed_by_type_and_named(app: FastAPI, client: httpx.AsyncClient) -> None:
    ticket = await open_ticket(client, app)
    ok = {
        "filter_groups": [
            {"filters": [flt("customer_id", "eq", ticket["customer_id"]), flt("group", "not_has_property")]}
        ]
    }
    r = await client.post("/v1/tickets/search", json=ok, headers=agent(app))
    assert [t["id"] for t in r.json()["items"]] == [ticket["id"]]
    bad = {"filter_groups": [{"filters": [flt("priority", "eq", "asap"), flt("group", "has_property", "x")]}]}
    r = await client.post("/v1/tickets/search", json=bad, headers=agent(app))
    assert r.status_code == 422 and r.headers["content-type"] == PROBLEM
    assert [e["field"] for e in r.json()["errors"]] == [
        "filter_groups.0.filters.0.value",
        "filter_groups.0.filters.1.value",
    ]


@pytest.mark.sqlite
async def test_fields_select_what_a_read_and_a_list_return(app: FastAPI, client: httpx.AsyncClient) -> None:
    ticket = await open_ticket(client, app, subject="Fields please")
    r = await client.get(f"/v1/tickets/{ticket['id']}?fields=subject,status", headers=agent(app))
    assert r.status_code == 200, r.text
    assert r.json() == {"id": ticket["id"], "subject": "Fields please", "status": ticket["status"]}
    assert r.headers["etag"]
    r = await client.get("/v1/tickets?fields=priority&limit=1", headers=agent(app))
    assert r.status_code == 200
    assert r.json()["items"] == [{"id": ticket["id"], "priority": "normal"}] and "next_cursor" in r.json()
    r = await client.get("/v1/tickets?fields=priority,colour", headers=agent(app))
    assert r.status_code == 422
    assert [(e["field"], e["location"]) for e in r.json()["errors"]] == [("fields", "query")]
    assert "'colour'" in r.json()["errors"][0]["message"]
    r = await client.get("/v1/tickets?colour=red", headers=agent(app))
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "colour"
