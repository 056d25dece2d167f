"""Bulk export of invoices (issue 23 item 5) through tessera_shared.exports: money with two
decimals, a customer name starting a formula neutralised, filter groups of the invoices' search."""

from __future__ import annotations

import csv
import io
import uuid

import httpx
import pytest
from billing_helpers import clerk, customer_created, deliver, invoice_payload
from fastapi import FastAPI

from tessera_billing.exports.models import EXPORTS
from tessera_billing.exports.sources import SOURCES
from tessera_shared.db import utcnow
from tessera_shared.exports.service import run_exports

pytestmark = pytest.mark.sqlite


async def test_invoices_exported_and_filtered(app: FastAPI, client: httpx.AsyncClient) -> None:
    evil, plain = uuid.uuid4(), uuid.uuid4()
    await deliver(app, customer_created(evil, "=HYPERLINK(1)"), evil)
    await deliver(app, customer_created(plain, "Acme"), plain)
    for customer in (evil, plain):
        r = await client.post("/v1/invoices", json=invoice_payload(customer), headers=clerk(app))
        assert r.status_code == 201, r.text
    groups = [{"filters": [{"property": "customer_id", "operator": "eq", "value": str(evil)}]}]
    r = await client.post(
        "/v1/exports",
        json={"resource": "invoices", "fields": ["customer_name", "total", "currency"], "filter_groups": groups},
        headers=clerk(app),
    )
    assert r.status_code == 202, r.text
    job = r.json()
    await run_exports(app.state.runtime.sessions, EXPORTS, SOURCES, utcnow(), ttl_seconds=60, page_rows=100)
    status = await client.get(f"/v1/exports/{job['id']}", headers=clerk(app))
    assert status.status_code == 200, status.text
    assert (status.json()["status"], status.json()["rows_written"]) == ("succeeded", 1)
    f = await client.get(f"/v1/exports/{job['id']}/file", headers=clerk(app))
    assert f.status_code == 200, f.text
    table = list(csv.reader(io.StringIO(f.text)))
    assert table[0] == ["customer_name", "total", "currency"] and len(table) == 2
    assert table[1][0] == "'=HYPERLINK(1)" and table[1][1].count(".") == 1 and len(table[1][1].split(".")[1]) == 2
