"""pipelines and their stages (issue 24, part 1): the default pipeline holds today's stages and
every existing deal; deals.pipeline_id (NOT NULL after the backfill) and deals.stage_kind;
the stage history names the pipeline; stage keys up to 40 characters

Revision ID: b7d41c2e9a05
Revises: 3b8e1f6a2c97
Create Date: 2026-12-05 05:20:00
"""

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

import tessera_shared.db
from tessera_shared.migrations import referring_rows_kept

revision: str = "b7d41c2e9a05"
down_revision: str | None = "3b8e1f6a2c97"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# tessera_sales.pipelines.rules.DEFAULT_PIPELINE_ID (a migration does not import the code it freezes).
DEFAULT_ID = "5a1e5000-0000-4000-8000-000000000001"
STAGES = [
    ("prospecting", "Prospecting", 1, 10, "open"),
    ("qualification", "Qualification", 2, 20, "open"),
    ("proposal", "Proposal", 3, 50, "open"),
    ("negotiation", "Negotiation", 4, 80, "open"),
    ("won", "Won", 5, 100, "won"),
    ("lost", "Lost", 6, 0, "lost"),
]


def upgrade() -> None:
    pipelines = op.create_table(
        "pipelines",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("key", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        sa.Column("archived_at", tessera_shared.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", tessera_shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", tessera_shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pipelines")),
        sa.UniqueConstraint("key", name=op.f("uq_pipelines_key")),
    )
    stages = op.create_table(
        "pipeline_stages",
        sa.Column("pipeline_id", sa.Uuid(), nullable=False),
        sa.Column("key", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("probability", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("archived_at", tessera_shared.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["pipeline_id"],
            ["pipelines.id"],
            name=op.f("fk_pipeline_stages_pipeline_id_pipelines"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("pipeline_id", "key", name=op.f("pk_pipeline_stages")),
    )
    now = datetime.now(UTC)
    default_id = uuid.UUID(DEFAULT_ID)
    op.bulk_insert(
        pipelines,
        [
            {
                "id": default_id,
                "key": "default",
                "name": "Sales",
                "is_default": True,
                "archived_at": None,
                "created_by": "migration",
                "created_at": now,
                "updated_at": now,
                "version": 1,
            }
        ],
    )
    op.bulk_insert(
        stages,
        [
            {"pipeline_id": default_id, "key": k, "name": n, "position": p, "probability": pr, "kind": kind}
            for k, n, p, pr, kind in STAGES
        ],
    )

    op.add_column("deals", sa.Column("pipeline_id", sa.Uuid(), nullable=True))
    op.add_column("deals", sa.Column("stage_kind", sa.String(length=10), server_default="open", nullable=False))
    op.add_column("deal_stage_changes", sa.Column("pipeline_id", sa.Uuid(), nullable=True))
    deals = sa.table(
        "deals",
        sa.column("pipeline_id", sa.Uuid()),
        sa.column("stage", sa.String()),
        sa.column("stage_kind", sa.String()),
    )
    history = sa.table("deal_stage_changes", sa.column("pipeline_id", sa.Uuid()))
    op.execute(deals.update().values(pipeline_id=default_id))
    op.execute(deals.update().where(deals.c.stage.in_(("won", "lost"))).values(stage_kind=deals.c.stage))
    op.execute(history.update().values(pipeline_id=default_id))

    # The history first: on SQLite its copy (below) then has the new shape.
    with op.batch_alter_table("deal_stage_changes", schema=None) as batch_op:
        batch_op.alter_column("from_stage", existing_type=sa.String(length=20), type_=sa.String(length=40))
        batch_op.alter_column("to_stage", existing_type=sa.String(length=20), type_=sa.String(length=40))
    # On SQLite the batch recreates deals: their lines and history are kept (foreign keys cascade).
    with referring_rows_kept("deals"), op.batch_alter_table("deals", schema=None) as batch_op:
        batch_op.alter_column("pipeline_id", existing_type=sa.Uuid(), nullable=False)
        batch_op.alter_column("stage", existing_type=sa.String(length=20), type_=sa.String(length=40))
        batch_op.create_foreign_key(batch_op.f("fk_deals_pipeline_id_pipelines"), "pipelines", ["pipeline_id"], ["id"])
        batch_op.create_index(
            "ix_deals_pipeline_id_stage_kind_stage", ["pipeline_id", "stage_kind", "stage"], unique=False
        )
        batch_op.create_index("ix_deals_stage_kind_id", ["stage_kind", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("deal_stage_changes", schema=None) as batch_op:
        batch_op.alter_column("to_stage", existing_type=sa.String(length=40), type_=sa.String(length=20))
        batch_op.alter_column("from_stage", existing_type=sa.String(length=40), type_=sa.String(length=20))
        batch_op.drop_column("pipeline_id")
    with referring_rows_kept("deals"), op.batch_alter_table("deals", schema=None) as batch_op:
        batch_op.drop_index("ix_deals_stage_kind_id")
        batch_op.drop_index("ix_deals_pipeline_id_stage_kind_stage")
        batch_op.drop_constraint(batch_op.f("fk_deals_pipeline_id_pipelines"), type_="foreignkey")
        batch_op.alter_column("stage", existing_type=sa.String(length=40), type_=sa.String(length=20))
        batch_op.drop_column("stage_kind")
        batch_op.drop_column("pipeline_id")
    op.drop_table("pipeline_stages")
    op.drop_table("pipelines")
