"""teams (their leads, members and territories)

Revision ID: c5d8e1f2a3b4
Revises: b4e2d9a7c613
Create Date: 2026-12-05 05:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

import tessera_shared.db

revision: str = "c5d8e1f2a3b4"
down_revision: str | None = "b4e2d9a7c613"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "teams",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.String(length=2000), nullable=True),
        sa.Column("lead", sa.String(length=200), nullable=True),
        sa.Column("members", JSON, nullable=False),
        sa.Column("territories", JSON, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", tessera_shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", tessera_shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_teams")),
        sa.UniqueConstraint("key", name=op.f("uq_teams_key")),
    )


def downgrade() -> None:
    op.drop_table("teams")
