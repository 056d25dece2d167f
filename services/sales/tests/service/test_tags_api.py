"""Tags on leads and deals (issue 24 part 3): on create and PATCH, the lists' ?tag=, the search
language's ``tags``, the bulk POST /v1/{leads,deals}/tags under the owner rules, and the events."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import select

from tessera_sales.testing import Api
from tessera_shared.infra_tables import outbox

pytestmark = pytest.mark.sqlite


async def published(app: FastAPI, event_type: str) -> list[dict[str, Any]]:
    async with app.state.runtime.sessions() as s:
        stmt = select(outbox.c.envelope).where(outbox.c.event_type == event_type).order_by(outbox.c.seq)
        return [json.loads(e)["data"] for e in (await s.execute(stmt)).scalars()]


async def lead(api: Api, headers: dict[str, str] | None = None, **body: Any) -> dict[str, Any]:
    r = await api.client.post(
        "/v1/leads", json={"source": "web_form", "name": "Ada", **body}, headers=headers or api.manager
    )
    assert r.status_code == 201, r.text
    return r.json()


async def ids(api: Api, path: str, headers: dict[str, str] | None = None, **params: str) -> list[str]:
    r = await api.client.get(path, params=params, headers=headers or api.manager)
    assert r.status_code == 200, r.text
    return [x["id"] for x in r.json()["items"]]


async def search(api: Api, resource: str, tag: str, headers: dict[str, str] | None = None) -> set[str]:
    body = {"filter_groups": [{"filters": [{"property": "tags", "operator": "contains_token", "value": tag}]}]}
    r = await api.client.post(f"/v1/{resource}/search", json=body, headers=headers or api.manager)
    assert r.status_code == 200, r.text
    return {x["id"] for x in r.json()["items"]}


class TestLeadTags:
    async def test_create_patch_list_search_and_events(self, api: Api) -> None:
        a = await lead(api, tags=["vip", " expo ", "vip"])
        b = await lead(api)
        assert (a["tags"], b["tags"]) == (["expo", "vip"], [])
        assert [e["tags"] for e in await published(api.app, "lead.created")] == [["expo", "vip"], []]
        assert await ids(api, "/v1/leads", tag="vip") == [a["id"]]
        assert await search(api, "leads", "expo") == {a["id"]}

        r = await api.client.patch(f"/v1/leads/{b['id']}", json={"tags": ["expo"]}, headers=api.manager)
        assert (r.status_code, r.json()["tags"]) == (200, ["expo"])
        [updated] = await published(api.app, "lead.updated")
        assert updated["changes"] == {"tags": ["expo"]}
        assert set(await ids(api, "/v1/leads", tag="expo")) == {a["id"], b["id"]}
        r = await api.client.patch(f"/v1/leads/{b['id']}", json={"tags": None}, headers=api.manager)
        assert (r.status_code, r.json()["errors"][0]["field"]) == (422, "tags")

    async def test_bulk_under_the_owner_rules(self, api: Api) -> None:
        mine = await lead(api, api.rep1, tags=["cold"])
        theirs = await lead(api, api.rep2)
        body = {"ids": [mine["id"], theirs["id"], str(uuid.uuid4())], "add": ["hot"], "remove": ["cold"]}
        r = await api.client.post("/v1/leads/tags", json=body, headers=api.rep1)
        assert r.status_code == 207, r.text
        results = r.json()["results"]
        assert [x["status"] for x in results] == ["updated", "error", "error"]
        # Another rep's lead is answered as a missing one.
        assert [x["problem"]["status"] for x in results[1:]] == [404, 404]
        assert await ids(api, "/v1/leads", tag="hot") == [mine["id"]]
        [updated] = await published(api.app, "lead.updated")
        assert (updated["lead_id"], updated["changes"]) == (mine["id"], {"tags": ["hot"]})

        r = await api.client.post(
            "/v1/leads/tags", json={"ids": [mine["id"], theirs["id"]], "add": ["x"]}, headers=api.manager
        )
        assert r.status_code == 200, r.text
        assert set(await ids(api, "/v1/leads", tag="x")) == {mine["id"], theirs["id"]}
        r = await api.client.post("/v1/leads/tags", json={"ids": [mine["id"]]}, headers=api.manager)
        assert r.status_code == 422


class TestDealTags:
    async def test_create_patch_list_search_and_events(self, api: Api) -> None:
        a = await api.deal(tags=["renewal", "q4", "q4"])
        b = await api.deal()
        assert (a["tags"], b["tags"]) == (["q4", "renewal"], [])
        assert [e["tags"] for e in await published(api.app, "deal.created")] == [["q4", "renewal"], []]
        assert await ids(api, "/v1/deals", tag="q4") == [a["id"]]
        assert await search(api, "deals", "renewal") == {a["id"]}

        r = await api.client.patch(
            f"/v1/deals/{b['id']}", json={"tags": ["q4"], "title": "Renamed"}, headers=api.manager
        )
        assert (r.status_code, r.json()["tags"]) == (200, ["q4"])
        [updated] = await published(api.app, "deal.updated")
        assert updated["changes"] == {"title": "Renamed", "tags": ["q4"]}
        assert set(await ids(api, "/v1/deals", tag="q4")) == {a["id"], b["id"]}
        r = await api.client.patch(f"/v1/deals/{a['id']}", json={"tags": []}, headers=api.manager)
        assert (r.status_code, r.json()["tags"]) == (200, [])
        assert await ids(api, "/v1/deals", tag="renewal") == []
        r = await api.client.patch(f"/v1/deals/{a['id']}", json={"tags": None}, headers=api.manager)
        assert (r.status_code, r.json()["errors"][0]["field"]) == (422, "tags")

    async def test_bulk_a_rep_tags_own_deals_only(self, api: Api) -> None:
        mine = await api.deal(headers=api.rep1)
        theirs = await api.deal(headers=api.rep2)
        body = {"ids": [theirs["id"], mine["id"]], "add": ["hot"]}
        r = await api.client.post("/v1/deals/tags", json=body, headers=api.rep1)
        assert r.status_code == 207, r.text
        assert [(x["status"], x["id"]) for x in r.json()["results"]] == [
            ("error", theirs["id"]),
            ("updated", mine["id"]),
        ]
        assert r.json()["results"][0]["problem"]["status"] == 404
        assert await ids(api, "/v1/deals", api.manager, tag="hot") == [mine["id"]]
        [updated] = await published(api.app, "deal.updated")
        assert (updated["deal_id"], updated["changes"], updated["version"]) == (mine["id"], {"tags": ["hot"]}, 2)
        # Unchanged records publish nothing.
        r = await api.client.post("/v1/deals/tags", json={"ids": [mine["id"]], "add": ["hot"]}, headers=api.rep1)
        assert (r.status_code, r.json()["results"][0]["status"]) == (200, "unchanged")
        assert len(await published(api.app, "deal.updated")) == 1
