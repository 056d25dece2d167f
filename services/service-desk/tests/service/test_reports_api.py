"""/v1/tickets/reports/*: backlog, SLA compliance, CSAT/NPS, first-contact resolution."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from desk_helpers import admin, agent, open_ticket, partner, patch
from fastapi import FastAPI

from tessera_shared.testing.plugin import bearer

# Dialect branches (SQL that differs on SQLite): the whole module runs on both databases.
pytestmark = pytest.mark.sqlite

R = "/v1/tickets/reports"


async def answer(client: httpx.AsyncClient, survey_url: str, csat: int, nps: int | None) -> None:
    path, token = survey_url.split("?token=")
    path = path.removeprefix("/api")  # the link names the gateway's path; this test calls the service
    r = await client.post(f"{path}/answer", params={"token": token}, json={"csat": csat, "nps": nps})
    assert r.status_code == 200, r.text


class TestReports:
    async def test_backlog_by_priority_and_age(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        for priority in ("high", "high", "low"):
            await open_ticket(client, app, priority=priority)
        done = await open_ticket(client, app, priority="high")
        await patch(client, app, done["id"], status="solved")
        r = await client.get(f"{R}/backlog", headers=agent(app))
        assert r.status_code == 200
        assert {(x["priority"], x["age_bucket"]): x["count"] for x in r.json()["rows"]} == {
            ("high", "0-1d"): 2,
            ("low", "0-1d"): 1,
        }
        later = (datetime.now(UTC) + timedelta(days=5)).isoformat()
        rows = (await client.get(f"{R}/backlog", params={"as_of": later}, headers=agent(app))).json()["rows"]
        assert {x["age_bucket"] for x in rows} == {"3-7d"}

    async def test_sla_compliance_and_first_contact_resolution(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        quick = await open_ticket(client, app, category="fault")
        await client.post(f"/v1/tickets/{quick['id']}/comments", json={"body": "Fixed"}, headers=agent(app))
        await patch(client, app, quick["id"], status="solved")
        slow = await open_ticket(client, app, category="inquiry", priority="urgent")
        later = datetime.now(UTC) + timedelta(days=30)
        await client.post("/v1/tickets/breach-scan", params={"as_of": later.isoformat()}, headers=admin(app))
        for _ in range(2):
            await client.post(f"/v1/tickets/{slow['id']}/comments", json={"body": "Trying"}, headers=agent(app))
        await patch(client, app, slow["id"], status="solved")
        window = {
            "from": (datetime.now(UTC) - timedelta(hours=1)).isoformat(),
            "to": (datetime.now(UTC) + timedelta(hours=1)).isoformat(),
        }
        sla = (await client.get(f"{R}/sla-compliance", params=window, headers=agent(app))).json()
        assert (sla["resolved"], sla["within_sla"], sla["compliance_pct"]) == (2, 1, 50.0)
        fcr = (await client.get(f"{R}/first-contact-resolution", params=window, headers=agent(app))).json()
        assert (fcr["resolved"], fcr["first_contact"], fcr["rate_pct"]) == (2, 1, 50.0)
        assert {c["category"]: c["rate_pct"] for c in fcr["by_category"]} == {"fault": 100.0, "inquiry": 0.0}

    @pytest.mark.parametrize("group_by", ["agent", "category", "period"])
    async def test_satisfaction(self, app: FastAPI, client: httpx.AsyncClient, group_by: str) -> None:
        for assignee, category, csat, nps in (
            ("a1", "fault", 5, 10),
            ("a1", "fault", 4, 9),
            ("a2", "inquiry", 2, 3),
            ("a2", "inquiry", 3, None),
        ):
            t = await open_ticket(client, app, assignee_id=assignee, category=category)
            closed = (await patch(client, app, t["id"], status="closed")).json()
            await answer(client, closed["survey_url"], csat, nps)
        r = await client.get(f"{R}/satisfaction", params={"group_by": group_by, "period": "day"}, headers=agent(app))
        assert r.status_code == 200, r.text
        rows = {x["key"]: x for x in r.json()["rows"]}
        if group_by == "period":
            (today,) = rows.values()
            assert (today["answered"], today["csat_avg"], today["csat_pct"]) == (4, 3.5, 50.0)
            assert (today["nps_answers"], today["nps"]) == (3, round(100 * (2 - 1) / 3, 2))
            assert list(rows) == [datetime.now(UTC).date().isoformat()]
        else:
            first, second = ("a1", "a2") if group_by == "agent" else ("fault", "inquiry")
            assert (rows[first]["csat_avg"], rows[first]["nps"]) == (4.5, 100.0)
            assert (rows[second]["csat_avg"], rows[second]["nps"]) == (2.5, -100.0)

    async def test_errors(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        assert (await client.get(f"{R}/backlog")).status_code == 401
        assert (await client.get(f"{R}/backlog", headers=partner(app))).status_code == 403
        assert (await client.get(f"{R}/sla-compliance", headers=bearer(app, "c", "billing_clerk"))).status_code == 403
        r = await client.get(f"{R}/satisfaction", params={"group_by": "mood"}, headers=agent(app))
        assert r.json()["errors"][0]["field"] == "group_by"
        r = await client.get(
            f"{R}/sla-compliance",
            params={"since": "2026-02-01T00:00:00Z", "until": "2026-01-01T00:00:00Z"},
            headers=agent(app),
        )
        assert (r.status_code, r.json()["errors"][0]["field"]) == (422, "since")
        r = await client.get(  # a former name and the new one of the same parameter
            f"{R}/sla-compliance",
            params={"from": "2026-01-01T00:00:00Z", "since": "2026-01-01T00:00:00Z"},
            headers=agent(app),
        )
        assert r.status_code == 422 and r.json()["type"] == "urn:tessera:problem:validation-error"
        assert r.json()["errors"] == [
            {"field": "since", "message": "give 'since' or its former name 'from', not both", "location": "query"}
        ]
