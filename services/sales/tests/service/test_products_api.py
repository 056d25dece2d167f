"""/v1/products: the small catalog line items draw from."""

from __future__ import annotations

import uuid

import pytest

from tessera_sales.testing import Api


class TestProducts:
    @pytest.mark.sqlite
    async def test_create_list_get_patch(self, api: Api) -> None:
        product = await api.product("A-1", price="12.50")
        assert (product["code"], product["unit_price"], product["active"]) == ("A-1", "12.50", True)
        r = await api.client.get("/v1/products", headers=api.rep1)
        assert [p["code"] for p in r.json()["items"]] == ["A-1"]
        got = await api.client.get(f"/v1/products/{product['id']}", headers=api.rep1)
        r = await api.client.patch(
            f"/v1/products/{product['id']}",
            json={"active": False},
            headers={**api.manager, "If-Match": got.headers["etag"]},
        )
        assert r.status_code == 200 and r.json()["active"] is False and r.json()["version"] == 2
        r = await api.client.patch(
            f"/v1/products/{product['id']}",
            json={"name": "B"},
            headers={**api.manager, "If-Match": got.headers["etag"]},
        )
        assert r.status_code == 412
        assert (await api.client.get("/v1/products?active=true", headers=api.rep1)).json()["items"] == []

    async def test_errors(self, api: Api) -> None:
        body = {"code": "A-1", "name": "A", "unit_price": "1", "currency": "EUR"}
        assert (await api.client.post("/v1/products", json=body)).status_code == 401
        assert (await api.client.post("/v1/products", json=body, headers=api.rep1)).status_code == 403
        assert (await api.client.post("/v1/products", json=body, headers=api.manager)).status_code == 201
        r = await api.client.post("/v1/products", json=body, headers=api.manager)
        assert r.status_code == 409
        r = await api.client.post(
            "/v1/products", json={**body, "code": "bad code", "unit_price": "-1"}, headers=api.manager
        )
        assert {e["field"] for e in r.json()["errors"]} == {"code", "unit_price"}
        assert (await api.client.get(f"/v1/products/{uuid.uuid4()}", headers=api.rep1)).status_code == 404
