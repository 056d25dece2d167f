"""initial schema

Revision ID: 6ccdd3734e22
Revises:
Create Date: 2026-11-23 20:02:50.139754
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text  # noqa: F401 - used by rendered JSONB columns

import tessera_shared.db
from tessera_shared import infra_migrations

revision: str = "6ccdd3734e22"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    infra_migrations.create_v1()
    op.create_table(
        "known_customers",
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("tier", sa.String(length=20), nullable=False),
        sa.Column("updated_at", tessera_shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("customer_id", name=op.f("pk_known_customers")),
    )


def downgrade() -> None:
    infra_migrations.drop_v1()
    op.drop_table("known_customers")
