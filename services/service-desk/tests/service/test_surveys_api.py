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


HTML = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
FORM = {**HTML, "Content-Type": "application/x-www-form-urlencoded"}


class TestSurveyPage:
    """A person opening the link in a mail client's browser gets a page, not JSON; API clients
    keep their JSON answers unchanged."""

    @pytest.mark.sqlite
    async def test_a_browser_answers_by_the_pages_form(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        sid, token = await closed_survey(client, app)
        link = f"/v1/surveys/{sid}"
        as_json = await client.get(link, params={"token": token})
        named_json = await client.get(link, params={"token": token}, headers={"Accept": "application/json"})
        assert as_json.headers["content-type"] == named_json.headers["content-type"] == "application/json"
        assert as_json.content == named_json.content

        page = await client.get(link, params={"token": token}, headers=HTML)
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert page.headers["cache-control"] == "no-store"
        assert '<html lang="en">' in page.text and "<legend>" in page.text
        # The form posts to the gateway's public answer route (the service's own is not reachable).
        assert f'<form method="post" action="/api/v1/surveys/{sid}/answer?token={token}">' in page.text
        assert page.text.count('name="csat"') == 5 and page.text.count('name="nps"') == 11
        assert '<textarea id="comment" name="comment"' in page.text

        url = f"{link}/answer"
        # No rating chosen: the form again, saying what is missing, the comment kept; nothing answered.
        missing = await client.post(url, params={"token": token}, content=b"comment=Fast+%26+kind", headers=FORM)
        assert missing.status_code == 422 and 'role="alert"' in missing.text
        assert ">Fast &amp; kind</textarea>" in missing.text
        assert (await client.get(link, params={"token": token})).json()["answered_at"] is None

        answer = b"csat=4&nps=9&comment=Fast+%26+kind"
        sent = await client.post(url, params={"token": token}, content=answer, headers=FORM)
        assert sent.status_code == 200 and "<h1>Thank you</h1>" in sent.text and "<form" not in sent.text
        answered = (await client.get(link, params={"token": token})).json()
        assert (answered["csat"], answered["nps"], answered["comment"]) == (4, 9, "Fast & kind")
        assert (await events(app)).count("survey.answered") == 1

        again = await client.post(url, params={"token": token}, content=b"csat=1", headers=FORM)
        assert again.status_code == 409 and "already answered" in again.text
        reopened = await client.get(link, params={"token": token}, headers=HTML)
        assert "already answered" in reopened.text and "<form" not in reopened.text
        wrong = await client.get(link, params={"token": "x" * 43}, headers=HTML)
        assert wrong.status_code == 404 and "not valid" in wrong.text and str(sid) not in wrong.text
        assert (await events(app)).count("survey.answered") == 1

    @pytest.mark.sqlite
    async def test_an_api_client_may_send_the_form_and_gets_json(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        sid, token = await closed_survey(client, app)
        url = f"/v1/surveys/{sid}/answer"
        form = {"Content-Type": "application/x-www-form-urlencoded"}
        bad = await client.post(url, params={"token": token}, content=b"csat=9&nps=x", headers=form)
        assert bad.status_code == 422 and {e["field"] for e in bad.json()["errors"]} == {"csat", "nps"}
        done = await client.post(url, params={"token": token}, content=b"csat=5", headers=form)
        assert done.status_code == 200 and done.json()["csat"] == 5 and done.json()["nps"] is None
        again = await client.post(url, params={"token": token}, json={"csat": 1})
        assert again.json()["type"] == "urn:tessera:problem:survey-already-answered"

    async def test_the_openapi_documents_the_page_and_the_form(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        paths = (await client.get("/openapi.json")).json()["paths"]
        read, answer = paths["/v1/surveys/{survey_id}"]["get"], paths["/v1/surveys/{survey_id}/answer"]["post"]
        for operation in (read, answer):
            assert "text/html" in operation["responses"]["200"]["content"]
            assert "application/json" in operation["responses"]["200"]["content"]
        assert "application/x-www-form-urlencoded" in answer["description"]  # one body type documented
        assert set(answer["responses"]["409"]["content"]) == {"application/problem+json", "text/html"}
        assert set(read["responses"]["404"]["content"]) == {"application/problem+json", "text/html"}
        assert set(read["responses"]["403"]["content"]) == {"application/problem+json"}  # staff: no page


def test_the_page_speaks_chinese_for_a_zh_locale() -> None:
    from tessera_service_desk.surveys.router import PAGES
    from tessera_shared.http.pages import render_page

    values = {"state": "form", "action": "/api/v1/surveys/x/answer?token=t", "chosen": {}, "error": False}
    page = render_page(PAGES, "survey_page", "zh", {**values, "chosen": {"csat": 3, "nps": None, "comment": ""}})
    assert '<html lang="zh">' in page and "满意度调查" in page and 'value="3" required checked' in page
