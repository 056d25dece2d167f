"""Migration 9d3f6b2a8c41 announces the member levels reached before loyalty.level_changed existed
(docs/domain.md §10.5), on both databases."""

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
accounts = sa.table(
    "loyalty_accounts",
    sa.column("customer_id", sa.Uuid()),
    sa.column("balance", sa.Integer()),
    sa.column("earned_total", sa.Integer()),
    sa.column("level", sa.String()),
    sa.column("updated_at", UTCDateTime()),
    sa.column("version", sa.Integer()),
)


def migrate(conn: Connection, revision: str) -> None:
    cfg = alembic_config(migrations_of(customer_main.__file__))
    cfg.attributes["connection"] = conn
    command.upgrade(cfg, revision)


@pytest.mark.sqlite
async def test_every_level_above_the_first_is_announced(databases: DatabaseFactory, backend: str) -> None:
    gold, platinum, silver, gone = (uuid.uuid4() for _ in range(4))

    def steps(conn: Connection) -> list[dict[str, object]]:
        migrate(conn, "4c0e5a9d7b13")
        common = {"balance": 0, "updated_at": T0, "version": 1}
        conn.execute(
            sa.insert(accounts),
            [
                {**common, "customer_id": gold, "earned_total": 1200, "level": "gold"},
                {**common, "customer_id": platinum, "earned_total": 6000, "level": "platinum"},
                {**common, "customer_id": silver, "earned_total": 10, "level": "silver"},
                {**common, "customer_id": gone, "earned_total": 9000, "level": "diamond"},  # no longer a level
            ],
        )
        migrate(conn, "head")
        rows = conn.execute(
            sa.select(outbox.c.key, outbox.c.envelope).where(outbox.c.event_type == "loyalty.level_changed")
        ).all()
        return [{"key": r.key, **orjson.loads(r.envelope)} for r in rows]

    engine = create_engine(await databases.empty(backend))
    try:
        async with engine.begin() as conn:
            announced = await conn.run_sync(steps)
    finally:
        await engine.dispose()
    assert sorted(
        (e["key"], e["data"]["from_level"], e["data"]["to_level"], e["data"]["discount_percent"]) for e in announced
    ) == sorted([(str(gold), None, "gold", "5"), (str(platinum), None, "platinum", "10")])
    assert {(e["data"]["earned_total"], e["data"]["changed_at"]) for e in announced if e["key"] == str(gold)} == {
        (1200, "2026-02-01T00:00:00Z")
    }
