"""Migration 4c0e5a9d7b13 announces the consents recorded before customer.consent_changed existed
(docs/domain.md §10.4), on both databases."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import orjson
import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy.engine import Connection

import tessera_customer.main as customer_main
from tessera_shared.db import UTCDateTime, create_engine
from tessera_shared.infra_tables import outbox
from tessera_shared.migrations import alembic_config
from tessera_shared.testing.databases import DatabaseFactory
from tessera_shared.testing.plugin import migrations_of

T0 = datetime(2026, 2, 1, tzinfo=UTC)
consents = sa.table(
    "consents",
    sa.column("customer_id", sa.Uuid()),
    sa.column("purpose", sa.String()),
    sa.column("granted", sa.Boolean()),
    sa.column("source", sa.String()),
    sa.column("recorded_at", UTCDateTime()),
    sa.column("recorded_by", sa.String()),
)


def migrate(conn: Connection, revision: str) -> None:
    cfg = alembic_config(migrations_of(customer_main.__file__))
    cfg.attributes["connection"] = conn
    command.upgrade(cfg, revision)


@pytest.mark.sqlite
async def test_every_current_answer_is_announced_once(databases: DatabaseFactory, backend: str) -> None:
    a, b = uuid.uuid4(), uuid.uuid4()

    def steps(conn: Connection) -> list[dict[str, object]]:
        migrate(conn, "b3cb403177db")
        common = {"source": "web_form", "recorded_by": "rep1"}
        conn.execute(
            sa.insert(consents),
            [
                {**common, "customer_id": a, "purpose": "marketing_email", "granted": True, "recorded_at": T0},
                {**common, "customer_id": a, "purpose": "sms", "granted": False, "recorded_at": T0},
                {**common, "customer_id": b, "purpose": "phone", "granted": True, "recorded_at": T0},
            ],
        )
        migrate(conn, "head")
        rows = conn.execute(sa.select(outbox.c.key, outbox.c.event_type, outbox.c.envelope)).all()
        assert {r.event_type for r in rows} == {"customer.consent_changed"}
        return [{"key": r.key, **orjson.loads(r.envelope)} for r in rows]

    engine = create_engine(await databases.empty(backend))
    try:
        async with engine.begin() as conn:
            announced = await conn.run_sync(steps)
    finally:
        await engine.dispose()
    assert sorted((e["key"], e["data"]["purpose"], e["data"]["granted"]) for e in announced) == sorted(
        [(str(a), "marketing_email", True), (str(a), "sms", False), (str(b), "phone", True)]
    )
    first = announced[0]["data"]
    assert (first["source"], first["actor"], first["changed_at"]) == ("web_form", "rep1", "2026-02-01T00:00:00Z")
