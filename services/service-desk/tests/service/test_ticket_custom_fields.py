"""Custom fields of tickets (issue 24 part 2) in the service desk: definitions at /v1/custom-fields
(admins), typed values on writes (422 naming custom_fields.<key>), the list filter and the
search, the events, the export, and the personal ones erased with the customer."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from desk_helpers import admin, agent, open_ticket, patch
from fastapi import FastAPI
from sqlalchemy import select

from tessera_service_desk.known_customers.handlers import on_customer_erased
from tessera_shared.events.contracts import CustomerErased
from tessera_shared.infra_tables import outbox

pytestmark = pytest.mark.sqlite


async def published(app: FastAPI, event_type: str) -> list[dict[str, Any]]:
    async with app.state.runtime.sessions() as s:
        stmt = select(outbox.c.envelope).where(outbox.c.event_type == event_type).order_by(outbox.c.seq)
        return [json.loads(e)["data"] for e in (await s.execute(stmt)).scalars()]


async def define(client: httpx.AsyncClient, app: FastAPI, **body: Any) -> None:
    r = await client.post("/v1/custom-fields", json={"entity": "ticket", **body}, headers=admin(app))
    assert r.status_code == 201, r.text


async def listed(client: httpx.AsyncClient, app: FastAPI, **params: str) -> set[str]:
    r = await client.get("/v1/tickets", params=params, headers=agent(app))
    assert r.status_code == 200, r.text
    return {t["id"] for t in r.json()["items"]}


async def test_values_filter_search_events(app: FastAPI, client: httpx.AsyncClient) -> None:
    await define(
        client,
        app,
        key="product",
        label="Product",
        type="enum",
        options=[{"value": "router", "label": "Router"}, {"value": "modem", "label": "Modem"}],
    )
    r = await client.post(
        "/v1/custom-fields", json={"entity": "ticket", "key": "x", "label": "X", "type": "text"}, headers=agent(app)
    )
    assert r.status_code == 403
    a = await open_ticket(client, app, custom_fields={"product": "router"})
    b = await open_ticket(client, app)
    assert (a["custom_fields"], b["custom_fields"]) == ({"product": "router"}, {})
    r = await client.post(
        "/v1/tickets",
        json={"customer_id": str(uuid.uuid4()), "subject": "S", "custom_fields": {"product": "toaster"}},
        headers=agent(app),
    )
    assert (r.status_code, r.json()["errors"][0]["field"]) == (422, "custom_fields.product")
    assert [e["custom_fields"] for e in await published(app, "ticket.opened")] == [{"product": "router"}, {}]
    assert await listed(client, app, **{"custom_fields.product": "router"}) == {a["id"]}

    r = await patch(client, app, b["id"], custom_fields={"product": "modem"})
    assert (r.status_code, r.json()["custom_fields"]) == (200, {"product": "modem"})
    [updated] = await published(app, "ticket.updated")
    assert updated["changes"] == {"custom_fields": {"product": "modem"}}
    body = {"filter_groups": [{"filters": [{"property": "custom_fields.product", "operator": "eq", "value": "modem"}]}]}
    r = await client.post("/v1/tickets/search", json=body, headers=agent(app))
    assert r.status_code == 200, r.text
    assert [t["id"] for t in r.json()["items"]] == [b["id"]]
    # Sorted by the enum's value, a ticket without one last in both directions.
    c = await open_ticket(client, app)
    for direction, expected in (("asc", [b["id"], a["id"], c["id"]]), ("desc", [a["id"], b["id"], c["id"]])):
        sort: dict[str, Any] = {"sorts": [{"property": "custom_fields.product", "direction": direction}]}
        r = await client.post("/v1/tickets/search", json=sort, headers=agent(app))
        assert [t["id"] for t in r.json()["items"]] == expected, (direction, r.text)


async def test_an_erasure_clears_the_personal_fields(app: FastAPI, client: httpx.AsyncClient) -> None:
    await define(client, app, key="callback_number", label="Callback number", type="text", personal=True)
    await define(client, app, key="severity_note", label="Severity", type="text")
    t = await open_ticket(client, app, custom_fields={"callback_number": "+49 30 1", "severity_note": "high"})
    async with app.state.runtime.sessions() as s:
        await on_customer_erased(
            s,
            None,
            CustomerErased(customer_id=uuid.UUID(t["customer_id"]), requested_by="dpo", erased_at=datetime.now(UTC)),
        )
        await s.commit()
    r = await client.get(f"/v1/tickets/{t['id']}", headers=agent(app))
    assert r.json()["custom_fields"] == {"severity_note": "high"}


async def test_a_definition_is_read_and_relabelled(app: FastAPI, client: httpx.AsyncClient) -> None:
    await define(client, app, key="area", label="Area", type="text")
    r = await client.get("/v1/custom-fields/ticket.area", headers=agent(app))
    assert (r.status_code, r.json()["id"]) == (200, "ticket.area")
    r = await client.get("/v1/custom-fields", params={"entity": "ticket"}, headers=agent(app))
    assert (r.status_code, [d["id"] for d in r.json()["items"]]) == (200, ["ticket.area"])
    r = await client.patch("/v1/custom-fields/ticket.area", json={"label": "Area of work"}, headers=admin(app))
    assert (r.status_code, r.json()["label"]) == (200, "Area of work")
    assert [e["label"] for e in await published(app, "custom_field.updated")] == ["Area of work"]
