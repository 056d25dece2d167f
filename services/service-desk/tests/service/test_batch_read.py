"""POST /v1/tickets/batch/read (issue 23): tickets by id in one call, as the list shows them."""

from __future__ import annotations

import uuid

import httpx
import pytest
from desk_helpers import agent, open_ticket, partner
from fastapi import FastAPI

pytestmark = pytest.mark.sqlite


async def test_reads_tickets_by_id(app: FastAPI, client: httpx.AsyncClient) -> None:
    a = await open_ticket(client, app)
    b = await open_ticket(client, app)
    missing = str(uuid.uuid4())
    r = await client.post("/v1/tickets/batch/read", json={"ids": [b["id"], missing, a["id"]]}, headers=agent(app))
    assert r.status_code == 200, r.text
    assert [t["id"] for t in r.json()["items"]] == [b["id"], a["id"]]
    assert r.json()["items"][0]["customer_id"] == b["customer_id"]
    assert r.json()["not_found"] == [missing]
    r = await client.post("/v1/tickets/batch/read", json={"ids": [a["id"]]}, headers=partner(app))
    assert r.status_code == 403
    assert (await client.get(f"/v1/tickets/{a['id']}", headers=agent(app))).status_code == 200
