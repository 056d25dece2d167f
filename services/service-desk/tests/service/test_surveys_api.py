"""/v1/surveys/{id}: the token link is the credential; staff read with a JWT; answered once."""

from __future__ import annotations

import uuid

import httpx
import pytest
from desk_helpers import agent, events, open_ticket, partner, patch
from fastapi import FastAPI

from tessera_shared.testing.plugin import bearer


async def closed_survey(client: httpx.AsyncClient, app: FastAPI) -> tuple[str, str]:
    t = await open_ticket(client, app, assignee_id="agent7", category="fault")
    body = (await patch(client, app, t["id"], status="closed")).json()
    return body["survey_id"], body["survey_url"].split("token=", 1)[1]


class TestGetSurvey:
    @pytest.mark.sqlite
    async def test_with_token_no_bearer_needed(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        sid, token = await closed_survey(client, app)
        r = await client.get(f"/v1/surveys/{sid}", params={"token": token})
        assert r.status_code == 200
        assert r.json()["answered_at"] is None
        assert "agent_id" not in r.json()  # the customer's view holds no internal data

    async def test_staff_read_with_jwt(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        sid, _ = await closed_survey(client, app)
        r = await client.get(f"/v1/surveys/{sid}", headers=bearer(app, "m", "sales_manager"))
        assert (r.status_code, r.json()["agent_id"], r.json()["category"]) == (200, "agent7", "fault")

    @pytest.mark.sqlite
    async def test_errors(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        sid, token = await closed_survey(client, app)
        assert (await client.get(f"/v1/surveys/{sid}")).status_code == 401
        assert (await client.get(f"/v1/surveys/{sid}", headers=partner(app))).status_code == 403
        r = await client.get(f"/v1/surveys/{sid}", params={"token": "x" * 43})
        assert r.status_code == 404  # a wrong token looks like no survey at all
        other = uuid.uuid4()
        assert (await client.get(f"/v1/surveys/{other}", params={"token": token})).status_code == 404
        assert (await client.get(f"/v1/surveys/{other}", headers=agent(app))).status_code == 404
        assert (await client.get("/v1/surveys/nope", headers=agent(app))).status_code == 422


class TestAnswerSurvey:
    async def test_answer_once_emits_event(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        sid, token = await closed_survey(client, app)
        url = f"/v1/surveys/{sid}/answer"
        r = await client.post(url, params={"token": token}, json={"csat": 4, "nps": 9, "comment": "Quick help"})
        assert r.status_code == 200, r.text
        assert (r.json()["csat"], r.json()["nps"], r.json()["comment"]) == (4, 9, "Quick help")
        again = await client.post(url, params={"token": token}, json={"csat": 1})
        assert again.status_code == 409
        assert again.json()["type"] == "urn:tessera:problem:survey-already-answered"
        assert (await events(app)).count("survey.answered") == 1

    async def test_errors(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        sid, token = await closed_survey(client, app)
        url = f"/v1/surveys/{sid}/answer"
        r = await client.post(url, json={"csat": 3})
        assert (r.status_code, r.json()["errors"][0]["field"]) == (422, "token")
        assert (await client.post(url, params={"token": "y" * 43}, json={"csat": 3})).status_code == 404
        r = await client.post(url, params={"token": token}, json={"csat": 6, "nps": 11, "extra": 1})
        assert {e["field"] for e in r.json()["errors"]} == {"csat", "nps", "extra"}
        assert (await client.get(f"/v1/surveys/{sid}", params={"token": token})).json()["answered_at"] is None
