"""pending deal wins: deal.won facts parked until their customer is announced (domain.md §10.2)

Revision ID: b41c7d2e9f10
Revises: 7c2d9e4b1a60
Create Date: 2026-12-04 21:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import tessera_shared.db

revision: str = "b41c7d2e9f10"
down_revision: str | None = "7c2d9e4b1a60"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "pending_deal_wins",
        sa.Column("deal_id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("data", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False),
        sa.Column("parked_at", tessera_shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("deal_id", name=op.f("pk_pending_deal_wins")),
    )
    with op.batch_alter_table("pending_deal_wins", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_pending_deal_wins_customer_id"), ["customer_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("pending_deal_wins", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_pending_deal_wins_customer_id"))
    op.drop_table("pending_deal_wins")
