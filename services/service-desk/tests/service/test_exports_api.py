"""Bulk export of tickets (issue 23 item 5) through tessera_shared.exports: subjects starting a
formula neutralised, filter groups of the tickets' search, the job's status and file."""

from __future__ import annotations

import csv
import io

import httpx
import pytest
from desk_helpers import agent, open_ticket
from fastapi import FastAPI

from tessera_service_desk.exports.models import EXPORTS
from tessera_service_desk.exports.sources import SOURCES
from tessera_shared.db import utcnow
from tessera_shared.exports.service import run_exports

pytestmark = pytest.mark.sqlite


async def test_tickets_exported_with_formulas_neutralised_and_filtered(app: FastAPI, client: httpx.AsyncClient) -> None:
    await open_ticket(client, app, subject="=cmd|' /C calc'!A0", priority="high")
    await open_ticket(client, app, subject="Printer jam", priority="low")
    groups = [{"filters": [{"property": "priority", "operator": "eq", "value": "high"}]}]
    r = await client.post(
        "/v1/exports",
        json={"resource": "tickets", "fields": ["subject", "priority"], "filter_groups": groups},
        headers=agent(app),
    )
    assert r.status_code == 202, r.text
    job = r.json()
    assert job["id"].startswith("tickets.")
    await run_exports(app.state.runtime.sessions, EXPORTS, SOURCES, utcnow(), ttl_seconds=60, page_rows=100)
    status = (await client.get(f"/v1/exports/{job['id']}", headers=agent(app))).json()
    assert (status["status"], status["rows_written"]) == ("succeeded", 1)
    f = await client.get(f"/v1/exports/{job['id']}/file", headers=agent(app))
    assert f.status_code == 200
    assert list(csv.reader(io.StringIO(f.text))) == [["subject", "priority"], ["'=cmd|' /C calc'!A0", "high"]]
