"""initial schema

Revision ID: e5b0714f9598
Revises:
Create Date: 2026-11-23 20:02:48.418858
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text  # noqa: F401 - used by rendered JSONB columns

import tessera_shared.db
from tessera_shared import infra_migrations

revision: str = "e5b0714f9598"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    infra_migrations.create_v1()
    op.create_table(
        "known_customers",
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("owner_id", sa.String(length=200), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("updated_at", tessera_shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("customer_id", name=op.f("pk_known_customers")),
    )
    with op.batch_alter_table("known_customers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_known_customers_owner_id"), ["owner_id"], unique=False)


def downgrade() -> None:
    infra_migrations.drop_v1()
    with op.batch_alter_table("known_customers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_known_customers_owner_id"))

    op.drop_table("known_customers")
