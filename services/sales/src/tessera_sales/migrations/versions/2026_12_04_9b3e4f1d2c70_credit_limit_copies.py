"""credit limit copies (docs/domain.md §10.1)

Sales keeps billing's last announced credit limit and open receivables per customer
(credit_lines, from credit.exposure_changed), billing's exchange-rate table (exchange_rates, from
exchange_rate.set) and the credit-limit check of each win (deal_credit_checks).

Revision ID: 9b3e4f1d2c70
Revises: 86d66ac15602
Create Date: 2026-12-04 21:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import tessera_shared.db

revision: str = "9b3e4f1d2c70"
down_revision: str | None = "86d66ac15602"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "credit_lines",
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("credit_limit", tessera_shared.db.Money(precision=20, scale=4), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("rating", sa.String(length=1), nullable=False),
        sa.Column("exposure", tessera_shared.db.Money(precision=20, scale=4), nullable=False),
        sa.Column(
            "open_balances",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("changed_at", tessera_shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("customer_id", name=op.f("pk_credit_lines")),
    )
    op.create_table(
        "exchange_rates",
        sa.Column("from_currency", sa.String(length=3), nullable=False),
        sa.Column("to_currency", sa.String(length=3), nullable=False),
        sa.Column("rate", sa.String(length=40), nullable=False),
        sa.Column("set_at", tessera_shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("from_currency", "to_currency", name=op.f("pk_exchange_rates")),
    )
    op.create_table(
        "deal_credit_checks",
        sa.Column("deal_id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("credit_limit", tessera_shared.db.Money(precision=20, scale=4), nullable=False),
        sa.Column("exposure", tessera_shared.db.Money(precision=20, scale=4), nullable=False),
        sa.Column("amount", tessera_shared.db.Money(precision=20, scale=4), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("exchange_rate", sa.String(length=40), nullable=True),
        sa.Column("fits", sa.Boolean(), nullable=False),
        sa.Column("invoiced", sa.Boolean(), nullable=False),
        sa.Column("override_by", sa.String(length=200), nullable=True),
        sa.Column("checked_at", tessera_shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("deal_id", name=op.f("pk_deal_credit_checks")),
    )
    with op.batch_alter_table("deal_credit_checks", schema=None) as batch_op:
        batch_op.create_index("ix_deal_credit_checks_customer_id", ["customer_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("deal_credit_checks", schema=None) as batch_op:
        batch_op.drop_index("ix_deal_credit_checks_customer_id")
    op.drop_table("deal_credit_checks")
    op.drop_table("exchange_rates")
    op.drop_table("credit_lines")
