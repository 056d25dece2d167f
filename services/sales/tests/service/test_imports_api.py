"""Bulk import of deals and leads (issue 23 item 5) through the customers' mechanic
(tessera_shared.imports): per-row results naming line and field, idempotent on external_id, one
event per created record, the owner rule per row, unknown customers refused by row."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tessera_sales.deals.models import Deal
from tessera_sales.leads.models import Lead
from tessera_sales.testing import Api

pytestmark = pytest.mark.sqlite


async def post(api: Api, path: str, body: str, who: dict[str, str], content_type: str = "text/csv") -> dict[str, Any]:
    r = await api.client.post(path, content=body.encode(), headers={**who, "content-type": content_type})
    assert r.status_code == 200, r.text
    out: dict[str, Any] = r.json()
    return out


async def test_deals_from_csv_with_per_row_errors_and_events(api: Api) -> None:
    known, missing = uuid.uuid4(), uuid.uuid4()
    for customer in (known, missing):
        await api.credit_known(customer)
    api.app.state.customer_directory.missing.add(missing)
    body = (
        "external_id,customer_id,title,amount,currency,stage,probability,owner_id\n"
        f"d-1,{known},Pumps,1200.00,EUR,proposal,50,\n"  # line 2: created (the rep's own)
        f"d-2,{known},Valves,12.345,EUR,,,\n"  # line 3: amount with three decimals
        f"d-3,{known},Bad stage,10.00,EUR,won,,\n"  # line 4: a new deal cannot start won
        f"d-4,{missing},Ghost,10.00,EUR,,,\n"  # line 5: the customer does not exist
        f"d-5,{known},Someone else's,10.00,EUR,,,rep2\n"  # line 6: a rep may not name another owner
        f",{known},No external id,10.00,EUR,,,\n"  # line 7
        f"d-6,{known},Seals,99.90,EUR,,not-a-number,\n"  # line 8: probability
        f"d-1,{known},Pumps again,1.00,EUR,,,\n"  # line 9: external id twice in the file
    )
    out = await post(api, "/v1/deals/import/csv", body, api.rep1)
    assert (out["received"], out["created"], out["existing"], out["failed"]) == (8, 1, 0, 7), out
    by_line = {e["line"]: e["field"] for e in out["errors"]}
    assert by_line == {
        3: "amount",
        4: "stage",
        5: "customer_id",
        6: "owner_id",
        7: "external_id",
        8: "probability",
        9: "external_id",
    }, out["errors"]
    deals = (await api.client.get("/v1/deals", headers=api.rep1)).json()["items"]
    assert [(d["title"], d["amount"], d["owner_id"], d["probability"]) for d in deals] == [
        ("Pumps", "1200.00", "rep1", 50)
    ]
    assert len(await api.events("deal.created")) == 1
    async with api.app.state.runtime.sessions() as s:
        assert (await s.get(Deal, uuid.UUID(deals[0]["id"]))).external_id == "d-1"

    # Again, with the mistakes mended: d-1 exists, the rest are created; nothing twice.
    again = (
        "external_id,customer_id,title,amount,currency\n"
        f"d-1,{known},Pumps,1200.00,EUR\n"
        f"d-2,{known},Valves,12.34,EUR\n"
        f"d-3,{known},Good stage,10.00,EUR\n"
    )
    out = await post(api, "/v1/deals/import/csv", again, api.rep1)
    assert (out["created"], out["existing"], out["failed"]) == (2, 1, 0), out
    assert len(await api.events("deal.created")) == 3


async def test_deals_from_json_lines_with_line_items(api: Api) -> None:
    customer = uuid.uuid4()
    await api.credit_known(customer)
    body = (
        f'{{"external_id": "j-1", "customer_id": "{customer}", "title": "Kit", "currency": "EUR",'
        ' "line_items": [{"description": "Pump", "quantity": "2", "unit_price": "600.00"}]}\n'
        '{"external_id": "j-2", "title": "No customer", "currency": "EUR"}\n'
        "not json\n"
    )
    out = await post(api, "/v1/deals/import/ndjson", body, api.manager, "application/x-ndjson")
    assert (out["created"], out["failed"]) == (1, 2), out
    assert [(e["line"], e["field"]) for e in out["errors"]] == [(2, "customer_id"), (3, "row")]
    [deal] = (await api.client.get("/v1/deals", headers=api.manager)).json()["items"]
    assert deal["amount"] == "1200.00" and len(deal["line_items"]) == 1


async def test_leads_from_csv(api: Api) -> None:
    body = (
        "external_id,name,company,email,source,estimated_value,currency\n"
        "l-1,Grace Hopper,Navy Labs,grace@example.com,web_form,5000.00,EUR\n"
        "l-2,No Source,,,,,\n"
        "l-3,Bad Mail,,not-mail,referral,,\n"
    )
    out = await post(api, "/v1/leads/import/csv", body, api.rep1)
    assert (out["created"], out["failed"]) == (1, 2), out
    assert [(e["line"], e["field"]) for e in out["errors"]] == [(3, "source"), (4, "email")]
    assert len(await api.events("lead.created")) == 1
    assert await api.count(Lead) == 1
    out = await post(api, "/v1/leads/import/csv", body, api.rep1)
    assert (out["created"], out["existing"], out["failed"]) == (0, 1, 2)


async def test_leads_from_json_lines(api: Api) -> None:
    body = "\n".join(
        [
            '{"external_id": "j-1", "name": "Ada Lovelace", "email": "ada@example.com", "source": "web_form"}',
            '{"external_id": "j-2", "name": "Bad Mail", "email": "not-mail", "source": "referral"}',
        ]
    )
    out = await post(api, "/v1/leads/import/ndjson", body, api.rep1, "application/x-ndjson")
    assert (out["created"], out["failed"]) == (1, 1), out
    assert [(e["line"], e["field"]) for e in out["errors"]] == [(2, "email")]
    assert len(await api.events("lead.created")) == 1


async def test_custom_fields_in_json_lines_and_csv_columns_validated_per_row(api: Api) -> None:
    admin = api.as_("root", "admin")
    for key, kind, extra in (
        ("seats", "number", {}),
        ("signed", "boolean", {}),
        ("tier", "enum", {"options": [{"value": "gold", "label": "Gold"}]}),
    ):
        definition = {"entity": "lead", "key": key, "label": key.title(), "type": kind, **extra}
        assert (await api.client.post("/v1/custom-fields", json=definition, headers=admin)).status_code == 201
    lead = '{"external_id": "%s", "name": "%s", "source": "web_form", "custom_fields": %s}'
    body = "\n".join(
        [
            lead % ("j-1", "Ada", '{"seats": 3, "signed": true, "tier": "gold"}'),
            lead % ("j-2", "Bob", '{"tier": "tin"}'),
            lead % ("j-3", "Cy", '{"nope": 1}'),
        ]
    )
    out = await post(api, "/v1/leads/import/ndjson", body, api.rep1, "application/x-ndjson")
    assert (out["created"], out["failed"]) == (1, 2), out
    assert [(e["line"], e["field"]) for e in out["errors"]] == [(2, "custom_fields.tier"), (3, "custom_fields.nope")]
    csv = (
        "external_id,name,source,custom_fields.seats,custom_fields.signed,custom_fields.tier\n"
        "c-1,Di,web_form,12.5,false,gold\n"
        "c-2,Ed,web_form,many,,\n"
        "c-3,Fay,web_form,,perhaps,\n"
    )
    out = await post(api, "/v1/leads/import/csv", csv, api.rep1)
    assert (out["created"], out["failed"]) == (1, 2), out
    assert [(e["line"], e["field"]) for e in out["errors"]] == [(3, "custom_fields.seats"), (4, "custom_fields.signed")]
    leads = (await api.client.get("/v1/leads", headers=api.rep1)).json()["items"]
    assert {x["name"]: x["custom_fields"] for x in leads} == {
        "Ada": {"seats": 3, "signed": True, "tier": "gold"},
        "Di": {"seats": 12.5, "signed": False, "tier": "gold"},
    }
    created = {e["data"]["lead_id"]: e["data"]["custom_fields"] for e in await api.events("lead.created")}
    assert sorted(created.values(), key=len) == sorted((x["custom_fields"] for x in leads), key=len)
    # An unknown column is still refused for the whole file; a key's column is not a field.
    r = await api.client.post(
        "/v1/leads/import/csv",
        content=b"external_id,name,source,custom_fields\nc-9,Gus,web_form,x\n",
        headers={**api.rep1, "content-type": "text/csv"},
    )
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "custom_fields"


async def test_who_may_import_and_what_a_file_must_be(api: Api) -> None:
    finance = api.as_("fin", "finance_manager")
    r = await api.client.post(
        "/v1/deals/import/csv", content=b"title\nx\n", headers={**finance, "content-type": "text/csv"}
    )
    assert r.status_code == 403
    r = await api.client.post(
        "/v1/leads/import/csv", content=b"name,colour\nx,red\n", headers={**api.rep1, "content-type": "text/csv"}
    )
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "colour"
    r = await api.client.post(
        "/v1/leads/import/csv", content=b"name\nx\n", headers={**api.rep1, "content-type": "application/json"}
    )
    assert r.status_code == 415
