"""The generic data-subject export finds every row about a customer, including child rows."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import Column, ForeignKey, Integer, String, Table, Uuid, insert

from tessera_shared.app import ServiceSpec, create_service_app
from tessera_shared.db import new_metadata
from tessera_shared.settings import ServiceSettings
from tessera_shared.testing.databases import DatabaseFactory
from tessera_shared.testing.plugin import bearer, running

metadata = new_metadata()
orders = Table(
    "orders",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("customer_id", Uuid, nullable=False),
    Column("note", String(50)),
)
order_lines = Table(
    "order_lines",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("order_id", ForeignKey("orders.id"), nullable=False),
    Column("text", String(50)),
)

# Dialect branches: these run on both databases.
pytestmark = pytest.mark.sqlite
unrelated = Table("settings_rows", metadata, Column("id", Integer, primary_key=True), Column("value", String(50)))


async def test_export_follows_customer_id_and_foreign_keys(databases: DatabaseFactory, backend: str) -> None:
    url = await databases.empty(backend)
    app = create_service_app(
        ServiceSpec(name="sales", title="t", description="t", routers=[], migrations=None, metadata=metadata),
        ServiceSettings(database_url=url, kafka_enabled=False, log_json=False),
    )
    mine, theirs = uuid.uuid4(), uuid.uuid4()
    async with running(app) as client:
        async with app.state.runtime.engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
            await conn.execute(
                insert(orders),
                [{"id": 1, "customer_id": mine, "note": "mine"}, {"id": 2, "customer_id": theirs, "note": "theirs"}],
            )
            await conn.execute(
                insert(order_lines),
                [{"id": 10, "order_id": 1, "text": "my line"}, {"id": 20, "order_id": 2, "text": "their line"}],
            )
            await conn.execute(insert(unrelated), [{"id": 1, "value": "x"}])
        assert (
            await client.get(f"/v1/data-subjects/{mine}/export", headers=bearer(app, "m", "sales_manager"))
        ).status_code == 403
        r = await client.get(f"/v1/data-subjects/{mine}/export", headers=bearer(app, "a", "admin"))
    assert r.status_code == 200
    tables = r.json()["tables"]
    assert [row["note"] for row in tables["orders"]] == ["mine"]
    assert [row["text"] for row in tables["order_lines"]] == ["my line"]
    assert "settings_rows" not in tables
