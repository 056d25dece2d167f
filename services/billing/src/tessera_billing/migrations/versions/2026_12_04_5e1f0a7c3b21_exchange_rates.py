"""exchange rates (docs/domain.md §10.1)

The operator's exchange-rate table: 1 from_currency = rate to_currency, the rate as exact decimal
text. Sales keeps a copy from exchange_rate.set and converts deal amounts into credit limits with it.

Revision ID: 5e1f0a7c3b21
Revises: e8854a4a11b2
Create Date: 2026-12-04 21:05:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import tessera_shared.db

revision: str = "5e1f0a7c3b21"
down_revision: str | None = "e8854a4a11b2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "exchange_rates",
        sa.Column("from_currency", sa.String(length=3), nullable=False),
        sa.Column("to_currency", sa.String(length=3), nullable=False),
        sa.Column("rate", sa.String(length=40), nullable=False),
        sa.Column("set_by", sa.String(length=200), nullable=False),
        sa.Column("set_at", tessera_shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("from_currency", "to_currency", name=op.f("pk_exchange_rates")),
    )


def downgrade() -> None:
    op.drop_table("exchange_rates")
