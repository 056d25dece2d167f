"""Segments: saved filters, members through the list's query, the consent-checked CSV export."""

from __future__ import annotations

import csv
import io
import uuid

import httpx
import pytest
from fastapi import FastAPI

from services.customer.tests.helpers import PROBLEM, count, create
from tessera_customer.customers.models import AccessLog
from tessera_customer.segments import service as segment_service
from tessera_customer.segments.models import Segment
from tessera_shared.testing.plugin import bearer


def manager(app: FastAPI) -> dict[str, str]:
    return bearer(app, "boss", "sales_manager")


async def save(
    client: httpx.AsyncClient,
    app: FastAPI,
    filters: dict,
    *,
    name: str | None = None,
    who: dict[str, str] | None = None,
) -> dict:
    r = await client.post(
        "/v1/segments",
        json={"name": name or f"seg {uuid.uuid4().hex[:6]}", "filters": filters},
        headers=who or manager(app),
    )
    assert r.status_code == 201, r.text
    return r.json()


async def consent(client: httpx.AsyncClient, app: FastAPI, customer_id: str, purpose: str, granted: bool) -> None:
    r = await client.post(
        f"/v1/customers/{customer_id}/consents",
        json={"purpose": purpose, "granted": granted, "source": "web_form"},
        headers=manager(app),
    )
    assert r.status_code == 201, r.text


class TestCreateSegment:
    @pytest.mark.sqlite
    async def test_saves_only_the_filters_given(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        r = await client.post(
            "/v1/segments",
            json={
                "name": "DE consumers",
                "description": "for the spring mail",
                "filters": {"country": "DE", "relation": "consumer"},
            },
            headers=bearer(app, "rep1", "sales_rep"),
        )
        assert r.status_code == 201, r.text
        body = r.json()
        assert body["filters"] == {"country": "DE", "relation": "consumer"}
        assert body["created_by"] == "rep1" and body["version"] == 1
        assert r.headers["location"] == f"/v1/segments/{body['id']}"
        got = await client.get(f"/v1/segments/{body['id']}", headers=bearer(app, "svc", "service"))
        assert got.json() == body and got.headers["etag"] == f'"{body["id"]}.1"'

    async def test_errors(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        good = {"name": "Key accounts", "filters": {"tier": "key"}}
        assert (await client.post("/v1/segments", json=good)).status_code == 401
        r = await client.post("/v1/segments", json=good, headers=bearer(app, "ag", "support_agent"))
        assert r.status_code == 403
        r = await client.post(
            "/v1/segments", json={**good, "filters": {"tier": "gold", "colour": "red"}}, headers=manager(app)
        )
        assert r.status_code == 422 and r.headers["content-type"] == PROBLEM
        assert {e["field"] for e in r.json()["errors"]} == {"filters.tier", "filters.colour"}
        assert (await client.post("/v1/segments", json=good, headers=manager(app))).status_code == 201
        r = await client.post("/v1/segments", json=good, headers=manager(app))
        assert r.status_code == 409
        assert await count(app, Segment) == 1


class TestChangeSegment:
    @pytest.mark.sqlite
    async def test_patch_bumps_version_and_honours_if_match(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        rep = bearer(app, "rep1", "sales_rep")
        seg = await save(client, app, {"tier": "key"}, who=rep)
        url = f"/v1/segments/{seg['id']}"
        r = await client.patch(
            url, json={"filters": {"tier": "small"}}, headers={**rep, "If-Match": f'"{seg["id"]}.1"'}
        )
        assert r.status_code == 200, r.text
        assert r.json()["filters"] == {"tier": "small"} and r.json()["version"] == 2
        r = await client.patch(url, json={"name": "x"}, headers={**rep, "If-Match": f'"{seg["id"]}.1"'})
        assert r.status_code == 412
        assert (await client.patch(url, json={"name": None}, headers=rep)).status_code == 422
        assert (
            await client.patch(url, json={"name": "y"}, headers=bearer(app, "rep2", "sales_rep"))
        ).status_code == 403
        assert (await client.patch(url, json={"name": "y"})).status_code == 401
        assert (await client.patch(f"/v1/segments/{uuid.uuid4()}", json={"name": "y"}, headers=rep)).status_code == 404
        other = await save(client, app, {}, name="taken")
        assert (await client.patch(url, json={"name": other["name"]}, headers=rep)).status_code == 409

    @pytest.mark.sqlite
    async def test_delete(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        seg = await save(client, app, {"tier": "key"}, who=bearer(app, "rep1", "sales_rep"))
        url = f"/v1/segments/{seg['id']}"
        assert (await client.delete(url, headers=bearer(app, "rep2", "sales_rep"))).status_code == 403
        assert (await client.delete(url, headers=manager(app))).status_code == 204
        assert (await client.get(url, headers=manager(app))).status_code == 404
        assert (await client.delete(url, headers=manager(app))).status_code == 404

    @pytest.mark.sqlite
    async def test_list_by_author(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        mine = await save(client, app, {}, who=bearer(app, "rep1", "sales_rep"))
        await save(client, app, {})
        r = await client.get("/v1/segments", params={"created_by": "rep1"}, headers=bearer(app, "rep2", "sales_rep"))
        assert [s["id"] for s in r.json()["items"]] == [mine["id"]]
        assert (await client.get("/v1/segments", headers=bearer(app, "c", "billing_clerk"))).status_code == 403


class TestMembers:
    @pytest.mark.sqlite
    async def test_members_follow_the_filters_with_cursor(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        seg_vars = {"geographic": {"country": "DE", "city": "Berlin"}, "demographic": {"age_band": "30-39"}}
        berliners = [
            await create(client, app, segmentation=seg_vars, tags=["b2c"], relation="consumer") for _ in range(3)
        ]
        await create(client, app, segmentation={"geographic": {"country": "DE", "city": "Bonn"}}, tags=["b2c"])
        await create(client, app, segmentation=seg_vars, tags=["b2b"], relation="consumer")
        seg = await save(
            client, app, {"country": "DE", "city": "Berlin", "age_band": "30-39", "tag": "b2c", "relation": "consumer"}
        )
        seen, cursor = [], None
        while True:
            r = await client.get(
                f"/v1/segments/{seg['id']}/members",
                params={"limit": 2, **({"cursor": cursor} if cursor else {})},
                headers=bearer(app, "rep1", "sales_rep"),
            )
            assert r.status_code == 200, r.text
            seen += [c["id"] for c in r.json()["items"]]
            if (cursor := r.json()["next_cursor"]) is None:
                break
        assert seen == sorted(c["id"] for c in berliners)

    async def test_errors(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        seg = await save(client, app, {})
        url = f"/v1/segments/{seg['id']}/members"
        assert (await client.get(url)).status_code == 401
        assert (await client.get(url, headers=bearer(app, "c", "finance_manager"))).status_code == 403
        assert (await client.get(f"/v1/segments/{uuid.uuid4()}/members", headers=manager(app))).status_code == 404
        assert (await client.get(url, params={"limit": 0}, headers=manager(app))).status_code == 422


def rows_of(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


class TestExport:
    @pytest.mark.sqlite
    async def test_only_consented_members_and_never_erased(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        made = [await create(client, app, tags=["spring"], phone=f"+49 30 555 00{i}") for i in range(5)]
        outsider = await create(client, app, tags=["other"])
        await consent(client, app, made[0]["id"], "marketing_email", True)
        await consent(client, app, made[1]["id"], "marketing_email", True)
        await consent(client, app, made[1]["id"], "marketing_email", False)  # withdrawn
        await consent(client, app, made[2]["id"], "sms", True)  # the wrong channel for e-mail
        await consent(client, app, made[3]["id"], "marketing_email", True)
        await consent(client, app, outsider["id"], "marketing_email", True)
        await client.post(
            f"/v1/customers/{made[3]['id']}/erase", json={"reason": "request"}, headers=bearer(app, "dpo", "admin")
        )
        seg = await save(client, app, {"tag": "spring"}, name="Spring =mail")
        r = await client.get(f"/v1/segments/{seg['id']}/export", params={"purpose": "email"}, headers=manager(app))
        assert r.status_code == 200, r.text
        assert r.headers["content-type"].startswith("text/csv")
        assert r.headers["content-disposition"] == 'attachment; filename="Spring-mail-email.csv"'
        rows = rows_of(r.text)
        assert [(x["customer_id"], x["email"], x["consent_source"]) for x in rows] == [
            (made[0]["id"], made[0]["email"], "web_form")
        ]
        sms = rows_of(
            (await client.get(f"/v1/segments/{seg['id']}/export", params={"purpose": "sms"}, headers=manager(app))).text
        )
        assert [(x["customer_id"], x["phone"]) for x in sms] == [(made[2]["id"], "+4930555002")]
        assert await count(app, AccessLog, AccessLog.action == "export_email") == 1

    async def test_walks_chunks_and_defuses_formulas(
        self, app: FastAPI, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(segment_service, "EXPORT_CHUNK", 2)
        made = [await create(client, app, name=name) for name in ('=HYPERLINK("http://x")', "Bo", "Cy", "Di", "Ed")]
        for c in made:
            await consent(client, app, c["id"], "marketing_email", True)
        seg = await save(client, app, {})
        r = await client.get(f"/v1/segments/{seg['id']}/export", params={"purpose": "email"}, headers=manager(app))
        rows = rows_of(r.text)
        assert [x["customer_id"] for x in rows] == [c["id"] for c in made]
        assert rows[0]["name"] == '\'=HYPERLINK("http://x")'

    async def test_formulas_after_a_separator_are_defused_and_every_cell_quoted(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        made = [await create(client, app, name=name) for name in ("x;=1+1", "y,@SUM(A1)", "z\t-2")]
        for c in made:
            await consent(client, app, c["id"], "marketing_email", True)
        seg = await save(client, app, {})
        r = await client.get(f"/v1/segments/{seg['id']}/export", params={"purpose": "email"}, headers=manager(app))
        assert r.status_code == 200, r.text
        assert [x["name"] for x in rows_of(r.text)] == ["x;'=1+1", "y,'@SUM(A1)", "z\t'-2"]
        lines = r.text.split("\r\n")
        # Nine cells a line, each quoted.
        assert all(line[0] == line[-1] == '"' and line.count('","') == 8 for line in lines if line), lines
        # A spreadsheet splitting on ';' or ',' (quotes or not) finds no cell that starts a formula.
        for separator in (";", ","):
            cells = [c.strip('"') for line in lines for c in line.split(separator)]
            assert not [c for c in cells if c.startswith(("=", "+", "-", "@"))], separator

    async def test_errors(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        seg = await save(client, app, {})
        url = f"/v1/segments/{seg['id']}/export"
        assert (await client.get(url, params={"purpose": "email"})).status_code == 401
        r = await client.get(url, params={"purpose": "email"}, headers=bearer(app, "rep1", "sales_rep"))
        assert r.status_code == 403
        r = await client.get(url, params={"purpose": "fax"}, headers=manager(app))
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "purpose"
        r = await client.get(url, headers=manager(app))
        assert r.status_code == 422
        r = await client.get(f"/v1/segments/{uuid.uuid4()}/export", params={"purpose": "email"}, headers=manager(app))
        assert r.status_code == 404
