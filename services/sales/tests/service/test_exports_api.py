"""Bulk exports of deals and leads (issue 23 item 5) through the shared mechanic: owner rules as
the lists apply them, formulas neutralised, money with two decimals."""

from __future__ import annotations

import csv
import io

import orjson
import pytest

from tessera_sales.exports.models import EXPORTS
from tessera_sales.exports.sources import SOURCES
from tessera_sales.testing import Api
from tessera_shared.db import utcnow
from tessera_shared.exports.service import run_exports

pytestmark = pytest.mark.sqlite


async def run_round(api: Api) -> int:
    settings = api.app.state.settings
    return await run_exports(
        api.app.state.runtime.sessions, EXPORTS, SOURCES, utcnow(), ttl_seconds=60, page_rows=settings.export_page_rows
    )


async def export(api: Api, who: dict[str, str], **body: object) -> str:
    r = await api.client.post("/v1/exports", json=body, headers=who)
    assert r.status_code == 202, r.text
    assert r.json()["id"].startswith(f"{body['resource']}.")
    return str(r.json()["id"])


async def file_of(api: Api, export_id: str, who: dict[str, str]) -> bytes:
    r = await api.client.get(f"/v1/exports/{export_id}/file", headers=who)
    assert r.status_code == 200, r.text
    return r.content


async def test_deals_a_rep_exports_only_their_own_and_a_manager_all(api: Api) -> None:
    await api.deal(title="=HYPERLINK(1)", amount="1234.5")
    await api.deal(headers=api.rep2, title="Rep two's deal")
    mine = await export(api, api.rep1, resource="deals", fields=["title", "amount", "currency", "owner_id"])
    everything = await export(api, api.manager, resource="deals", format="ndjson", fields=["title", "owner_id"])
    assert await run_round(api) == 2
    table = list(csv.reader(io.StringIO((await file_of(api, mine, api.rep1)).decode())))
    assert table == [["title", "amount", "currency", "owner_id"], ["'=HYPERLINK(1)", "1234.50", "EUR", "rep1"]]
    rows = [orjson.loads(line) for line in (await file_of(api, everything, api.manager)).splitlines()]
    assert sorted(r["owner_id"] for r in rows) == ["rep1", "rep2"]
    # The rep's export is theirs alone.
    assert (await api.client.get(f"/v1/exports/{mine}", headers=api.rep2)).status_code == 404


async def test_leads_with_default_fields(api: Api) -> None:
    r = await api.client.post(
        "/v1/leads",
        json={"name": "-Lead", "company": "Acme", "email": "lead@example.com", "source": "web_form"},
        headers=api.rep1,
    )
    assert r.status_code == 201, r.text
    job = await export(api, api.rep1, resource="leads")
    await run_round(api)
    status = (await api.client.get(f"/v1/exports/{job}", headers=api.rep1)).json()
    assert (status["status"], status["rows_written"], status["progress"]) == ("succeeded", 1, 1.0)
    table = list(csv.reader(io.StringIO((await file_of(api, job, api.rep1)).decode())))
    row = dict(zip(table[0], table[1], strict=True))
    assert (row["name"], row["email"], row["owner_id"]) == ("'-Lead", "lead@example.com", "rep1")
    # Finance reads deals, not leads; customers are the customer service's.
    finance = api.as_("fin", "finance_manager")
    assert (await api.client.post("/v1/exports", json={"resource": "leads"}, headers=finance)).status_code == 403
    r = await api.client.post("/v1/exports", json={"resource": "customers"}, headers=api.manager)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "resource"


async def test_deals_filtered_by_amount_and_stage(api: Api) -> None:
    for amount in ("50.00", "150.00", "1500.00"):
        await api.deal(title=f"Deal {amount}", amount=amount)
    groups = [
        {
            "filters": [
                {"property": "amount", "operator": "gte", "value": "100"},
                {"property": "stage", "operator": "eq", "value": "prospecting"},
            ]
        }
    ]
    job = await export(api, api.manager, resource="deals", fields=["amount"], filter_groups=groups)
    await run_round(api)
    rows = list(csv.reader(io.StringIO((await file_of(api, job, api.manager)).decode())))
    assert sorted(r[0] for r in rows[1:]) == ["150.00", "1500.00"]
