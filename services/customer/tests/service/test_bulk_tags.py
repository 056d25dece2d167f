"""POST /v1/customers/tags (issue 24 part 3): the bulk tagging deals, leads and tickets have too,
through the PATCH's use case and rules (tessera_shared.tags)."""

from __future__ import annotations

import uuid

import httpx
import pytest
from fastapi import FastAPI

from services.customer.tests.helpers import create, events
from tessera_shared.testing.plugin import bearer

pytestmark = pytest.mark.sqlite
REP1 = ("rep1", "sales_rep")
REP2 = ("rep2", "sales_rep")


async def tagged(client: httpx.AsyncClient, app: FastAPI, tag: str) -> set[str]:
    r = await client.get("/v1/customers", params={"tag": tag}, headers=bearer(app, "m", "sales_manager"))
    assert r.status_code == 200, r.text
    return {c["id"] for c in r.json()["items"]}


async def test_bulk_add_remove_under_the_patch_rules(app: FastAPI, client: httpx.AsyncClient) -> None:
    mine = await create(client, app, who=REP1, tags=["trial"])
    other = await create(client, app, who=REP2)
    missing = str(uuid.uuid4())
    before = len(await events(app, "customer.updated"))
    body = {"ids": [mine["id"], other["id"], missing], "add": ["vip"], "remove": ["trial"]}
    r = await client.post("/v1/customers/tags", json=body, headers=bearer(app, *REP1))
    assert r.status_code == 207, r.text
    results = r.json()["results"]
    assert [x["status"] for x in results] == ["updated", "error", "error"]
    # Another rep's customer: readable by all, changed only by its owner (as PATCH answers).
    assert [x["problem"]["status"] for x in results[1:]] == [403, 404]
    assert await tagged(client, app, "vip") == {mine["id"]}
    assert await tagged(client, app, "trial") == set()
    [updated] = (await events(app, "customer.updated"))[before:]
    assert (updated["data"]["customer_id"], updated["data"]["changed_fields"]) == (mine["id"], ["tags"])
    r = await client.get(f"/v1/customers/{mine['id']}", headers=bearer(app, *REP1))
    assert (r.json()["tags"], r.json()["version"]) == (["vip"], 2)

    manager = bearer(app, "m", "sales_manager")
    r = await client.post(
        "/v1/customers/tags", json={"ids": [mine["id"], other["id"]], "add": ["vip"]}, headers=manager
    )
    assert r.status_code == 200, r.text
    assert [x["status"] for x in r.json()["results"]] == ["unchanged", "updated"]
    assert await tagged(client, app, "vip") == {mine["id"], other["id"]}
    r = await client.post("/v1/customers/tags", json={"ids": [mine["id"]], "add": ["x" * 51]}, headers=manager)
    assert (r.status_code, r.json()["errors"][0]["field"]) == (422, "add.0")
    r = await client.post(
        "/v1/customers/tags", json={"ids": [mine["id"]], "add": ["x"]}, headers=bearer(app, "b", "billing_clerk")
    )
    assert r.status_code == 403
