"""loyalty: member levels, payments with points, the member discount rate on invoice lines

docs/domain.md §10.5: billing keeps the member level ``loyalty.level_changed`` announces
(``member_levels``), the payments with points it asked the customer service for
(``loyalty_payments``), and the rate a member discount line took off (``invoice_lines.
member_discount_percent``, null on every other line).

Revision ID: 7c2d9e4b1a60
Revises: 5e1f0a7c3b21
Create Date: 2026-12-04 21:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import tessera_shared.db

revision: str = "7c2d9e4b1a60"
down_revision: str | None = "5e1f0a7c3b21"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "member_levels",
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("level", sa.String(length=20), nullable=False),
        sa.Column("discount_percent", tessera_shared.db.Money(), nullable=False),
        sa.Column("changed_at", tessera_shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("customer_id", name=op.f("pk_member_levels")),
    )
    op.create_table(
        "loyalty_payments",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("invoice_id", sa.Uuid(), nullable=False),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("point_value", tessera_shared.db.Money(), nullable=False),
        sa.Column("amount", tessera_shared.db.Money(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("balance_after", sa.Integer(), nullable=True),
        sa.Column("payment_id", sa.Uuid(), nullable=True),
        sa.Column("requested_by", sa.String(length=200), nullable=False),
        sa.Column("requested_on", sa.Date(), nullable=False),
        sa.Column("created_at", tessera_shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("decided_at", tessera_shared.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("reversed_at", tessera_shared.db.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_loyalty_payments")),
    )
    with op.batch_alter_table("loyalty_payments", schema=None) as batch_op:
        batch_op.create_index("ix_loyalty_payments_customer_id_id", ["customer_id", "id"], unique=False)
        batch_op.create_index("ix_loyalty_payments_invoice_id", ["invoice_id"], unique=False)
    with op.batch_alter_table("invoice_lines", schema=None) as batch_op:
        batch_op.add_column(sa.Column("member_discount_percent", tessera_shared.db.Money(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("invoice_lines", schema=None) as batch_op:
        batch_op.drop_column("member_discount_percent")
    with op.batch_alter_table("loyalty_payments", schema=None) as batch_op:
        batch_op.drop_index("ix_loyalty_payments_invoice_id")
        batch_op.drop_index("ix_loyalty_payments_customer_id_id")
    op.drop_table("loyalty_payments")
    op.drop_table("member_levels")
