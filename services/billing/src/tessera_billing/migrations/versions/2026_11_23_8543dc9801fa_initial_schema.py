"""initial schema

Revision ID: 8543dc9801fa
Revises:
Create Date: 2026-11-23 20:02:31.572348
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text  # noqa: F401 - used by rendered JSONB columns

import tessera_shared.db
from tessera_shared import infra_migrations

revision: str = "8543dc9801fa"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    infra_migrations.create_v1()
    op.create_table(
        "credit_profiles",
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("customer_name", sa.String(length=200), nullable=False),
        sa.Column("rating", sa.String(length=1), nullable=False),
        sa.Column("credit_limit", tessera_shared.db.Money(precision=20, scale=4), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("payment_terms_days", sa.Integer(), nullable=False),
        sa.Column("created_at", tessera_shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", tessera_shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("customer_id", name=op.f("pk_credit_profiles")),
    )


def downgrade() -> None:
    infra_migrations.drop_v1()
    op.drop_table("credit_profiles")
