"""Migration b7d41c2e9a05: the default pipeline holds today's stages and every existing deal (open
ones open, closed ones won or lost), and the stage history names it, on both databases."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy.engine import Connection

import tessera_sales.main as sales_main
from tessera_sales.pipelines.rules import DEFAULT_PIPELINE_ID
from tessera_shared.db import UTCDateTime, create_engine
from tessera_shared.migrations import alembic_config
from tessera_shared.testing.databases import DatabaseFactory
from tessera_shared.testing.plugin import migrations_of

T0 = datetime(2026, 2, 1, tzinfo=UTC)


def migrate(conn: Connection, revision: str) -> None:
    cfg = alembic_config(migrations_of(sales_main.__file__))
    cfg.attributes["connection"] = conn
    command.upgrade(cfg, revision)


@pytest.mark.sqlite
async def test_existing_deals_join_the_default_pipeline(databases: DatabaseFactory, backend: str) -> None:
    deals = sa.table(
        "deals",
        sa.column("id", sa.Uuid()),
        sa.column("customer_id", sa.Uuid()),
        sa.column("pipeline_id", sa.Uuid()),
        *(sa.column(n) for n in ("title", "amount", "amount_minor", "currency", "stage", "stage_kind")),
        *(sa.column(n) for n in ("probability", "probability_overridden", "furthest_rank", "large_flagged")),
        *(sa.column(n) for n in ("created_by", "version")),
        sa.column("created_at", UTCDateTime()),
        sa.column("updated_at", UTCDateTime()),
    )
    history = sa.table(
        "deal_stage_changes",
        sa.column("id", sa.Uuid()),
        sa.column("deal_id", sa.Uuid()),
        sa.column("pipeline_id", sa.Uuid()),
        *(sa.column(n) for n in ("to_stage", "to_rank", "changed_by")),
        sa.column("entered_at", UTCDateTime()),
    )
    lines = sa.table(
        "deal_lines",
        sa.column("deal_id", sa.Uuid()),
        *(
            sa.column(n)
            for n in ("position", "description", "quantity", "unit_price", "discount_percent", "line_total")
        ),
    )
    stages = sa.table("pipeline_stages", *(sa.column(n) for n in ("pipeline_id", "key", "position", "kind")))
    ids = {stage: uuid.uuid4() for stage in ("proposal", "won", "lost")}

    def steps(conn: Connection) -> tuple[dict[uuid.UUID, tuple[object, str]], set[object], list[tuple[str, str]]]:
        migrate(conn, "c64567a380b0")  # before external_ids (7c2e9a41d5b3), which recreates deals on SQLite too
        for stage, deal_id in ids.items():
            conn.execute(
                sa.insert(deals).values(
                    id=deal_id,
                    customer_id=uuid.uuid4(),
                    title=stage,
                    amount="10.00",
                    amount_minor=1000,
                    currency="EUR",
                    stage=stage,
                    probability=50,
                    probability_overridden=False,
                    furthest_rank=3,
                    large_flagged=False,
                    created_by="rep1",
                    version=1,
                    created_at=T0,
                    updated_at=T0,
                )
            )
            conn.execute(
                sa.insert(lines).values(
                    deal_id=deal_id,
                    position=1,
                    description="x",
                    quantity="1",
                    unit_price="10.00",
                    discount_percent="0",
                    line_total="10.00",
                )
            )
            conn.execute(
                sa.insert(history).values(
                    id=uuid.uuid4(), deal_id=deal_id, to_stage=stage, to_rank=3, changed_by="rep1", entered_at=T0
                )
            )
        migrate(conn, "b7d41c2e9a05")
        after = {
            r.id: (r.pipeline_id, r.stage_kind)
            for r in conn.execute(sa.select(deals.c.id, deals.c.pipeline_id, deals.c.stage_kind))
        }
        # The history and the lines survive (on SQLite the deals table is recreated).
        pipelines = {r.pipeline_id for r in conn.execute(sa.select(history.c.pipeline_id))}
        assert len(conn.execute(sa.select(lines.c.deal_id)).all()) == len(ids)
        assert len(conn.execute(sa.select(history.c.deal_id)).all()) == len(ids)
        rows = conn.execute(sa.select(stages.c.key, stages.c.kind).order_by(stages.c.position)).all()
        return after, pipelines, [(r.key, r.kind) for r in rows]

    engine = create_engine(await databases.empty(backend))
    try:
        async with engine.begin() as conn:
            after, pipelines, default_stages = await conn.run_sync(steps)
    finally:
        await engine.dispose()
    assert after == {
        ids["proposal"]: (DEFAULT_PIPELINE_ID, "open"),
        ids["won"]: (DEFAULT_PIPELINE_ID, "won"),
        ids["lost"]: (DEFAULT_PIPELINE_ID, "lost"),
    }
    assert pipelines == {DEFAULT_PIPELINE_ID}
    assert default_stages == [
        ("prospecting", "open"),
        ("qualification", "open"),
        ("proposal", "open"),
        ("negotiation", "open"),
        ("won", "won"),
        ("lost", "lost"),
    ]
