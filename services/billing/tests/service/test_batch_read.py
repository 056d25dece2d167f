"""POST /v1/invoices/batch/read (issue 23): invoices by id in one call, as the list shows them."""

from __future__ import annotations

import uuid

import httpx
import pytest
from billing_helpers import clerk, customer_created, deliver, invoice_payload
from fastapi import FastAPI

from tessera_shared.testing.plugin import bearer

pytestmark = pytest.mark.sqlite


async def test_reads_invoices_by_id(app: FastAPI, client: httpx.AsyncClient) -> None:
    cid = uuid.uuid4()
    await deliver(app, customer_created(cid, "Acme"), cid)
    made = []
    for _ in range(2):
        r = await client.post("/v1/invoices", json=invoice_payload(cid), headers=clerk(app))
        assert r.status_code == 201, r.text
        made.append(r.json())
    missing = str(uuid.uuid4())
    body = {"ids": [made[1]["id"], missing, made[0]["id"]]}
    r = await client.post("/v1/invoices/batch/read", json=body, headers=clerk(app))
    assert r.status_code == 200, r.text
    assert [i["id"] for i in r.json()["items"]] == [made[1]["id"], made[0]["id"]]
    assert r.json()["items"][0]["total"] == made[1]["total"]
    assert r.json()["not_found"] == [missing]
    r = await client.post("/v1/invoices/batch/read", json=body, headers=bearer(app, "p", "partner"))
    assert r.status_code == 403
    assert (await client.get(f"/v1/invoices/{made[0]['id']}", headers=clerk(app))).status_code == 200
