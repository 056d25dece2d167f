"""The event contract is public: each event's ``dataschema`` is a URL the gateway serves without a token."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal

import httpx
import jsonschema
import pytest
from fastapi import FastAPI

import tessera_gateway.main as gateway_main
from tessera_gateway.main import create_app
from tessera_gateway.settings import GatewaySettings
from tessera_shared.events import build_event
from tessera_shared.events.contracts import DealWon, LineItem
from tessera_shared.events.envelope import PUBLIC_GATEWAY_URL_ENV
from tessera_shared.events.schemas import all_schemas
from tessera_shared.testing.databases import DatabaseFactory
from tessera_shared.testing.plugin import migrations_of, running

PUBLIC = "https://crm.example.com"


@pytest.fixture
async def gateway(
    databases: DatabaseFactory,
    backend: str,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    monkeypatch.setenv(PUBLIC_GATEWAY_URL_ENV, PUBLIC + "/")
    url = await databases.new("gateway", backend, migrations_of(gateway_main.__file__))
    app = create_app(GatewaySettings(database_url=url, log_json=False))
    async with running(app) as client:
        yield app, client


def won() -> DealWon:
    return DealWon(
        deal_id=uuid.uuid4(),
        customer_id=uuid.uuid4(),
        title="Renewal",
        amount=Decimal("1200.50"),
        currency="EUR",
        line_items=[LineItem(description="Seats", quantity=Decimal("10"), unit_price=Decimal("120.05"))],
        won_at=datetime.now(UTC),
    )


async def test_an_events_dataschema_is_served_without_a_token(gateway) -> None:
    _, client = gateway
    envelope = build_event(won(), subject=uuid.uuid4())
    # An absolute URL (CloudEvents' dataschema is a URI), at the public gateway URL; before: a URN.
    assert envelope.dataschema == f"{PUBLIC}/api/v1/events/schemas/deal.won"
    path = envelope.dataschema.removeprefix(PUBLIC)
    r = await client.get(path)  # no Authorization header
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/schema+json")
    # Public contract, no personal data: the one answer under /api/v1 that caches may keep.
    assert r.headers["cache-control"] == "public, max-age=300"
    assert r.headers["x-content-type-options"] == "nosniff"
    schema = r.json()
    assert schema["$id"] == envelope.dataschema
    jsonschema.Draft202012Validator(schema).validate(envelope.model_dump(mode="json")["data"])
    bad = {**envelope.model_dump(mode="json")["data"], "amount": "1" * 20}
    assert not jsonschema.Draft202012Validator(schema).is_valid(bad)

    again = await client.get(path, headers={"If-None-Match": r.headers["etag"]})
    assert again.status_code == 304 and again.headers["etag"] == r.headers["etag"] and not again.content


@pytest.mark.sqlite
async def test_the_index_lists_every_type(gateway) -> None:
    _, client = gateway
    r = await client.get("/api/v1/events/schemas")
    assert r.status_code == 200 and r.headers["etag"]
    items = r.json()["items"]
    assert [i["type"] for i in items] == sorted(all_schemas())
    deal_won = next(i for i in items if i["type"] == "deal.won")
    assert deal_won == {
        "type": "deal.won",
        "producer": "sales",
        "topic": "crm.sales",
        "dataschema": f"{PUBLIC}/api/v1/events/schemas/deal.won",
    }
    for item in items[:3]:
        assert (await client.get(item["dataschema"].removeprefix(PUBLIC))).status_code == 200


async def test_an_unknown_type_is_a_404_problem(gateway) -> None:
    _, client = gateway
    r = await client.get("/api/v1/events/schemas/deal.nope")
    assert r.status_code == 404
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["status"] == 404
