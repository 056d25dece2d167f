"""Deeply nested JSON: refused with a 422 naming the field or ``body``, never a 500 or a 400."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from tessera_shared.testing.plugin import bearer


@pytest.mark.parametrize("depth", [9, 300, 900])
async def test_custom_attributes_nest_at_most_8_levels(app: FastAPI, client: httpx.AsyncClient, depth: int) -> None:
    body = b'{"kind": "person", "name": "A", "custom_attributes": {"a": ' + b"[" * depth + b"]" * depth + b"}}"
    r = await client.post(
        "/v1/customers", content=body, headers={**bearer(app, "a", "admin"), "Content-Type": "application/json"}
    )
    assert r.status_code == 422, r.text[:300]
    assert r.json()["errors"][0]["field"] == "custom_attributes"


async def test_eight_levels_are_kept(app: FastAPI, client: httpx.AsyncClient) -> None:
    nested: object = "leaf"
    for _ in range(7):
        nested = [nested]
    r = await client.post(
        "/v1/customers",
        json={"kind": "person", "name": "A", "custom_attributes": {"a": nested}},
        headers=bearer(app, "a", "admin"),
    )
    assert r.status_code == 201, r.text
    assert r.json()["custom_attributes"] == {"a": nested}
    patch = await client.patch(
        f"/v1/customers/{r.json()['id']}",
        json={"custom_attributes": {"a": [nested]}},
        headers={**bearer(app, "a", "admin"), "If-Match": r.headers["etag"]},
    )
    assert patch.status_code == 422 and patch.json()["errors"][0]["field"] == "custom_attributes"


async def test_a_body_nested_1000_deep_is_422_naming_body(app: FastAPI, client: httpx.AsyncClient) -> None:
    body = b'{"name": ' + b"[" * 1000 + b"]" * 1000 + b"}"
    r = await client.post(
        "/v1/customers", content=body, headers={**bearer(app, "a", "admin"), "Content-Type": "application/json"}
    )
    assert (r.status_code, r.json()["errors"][0]["field"]) == (422, "body"), r.text[:300]
