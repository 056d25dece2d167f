"""known customers copy (tessera_shared.known_customers)

Billing keeps the shared local copy of customers too. Customers billing already knows by name (a
credit profile that customer.created named) are copied in, so that existing databases know them;
their status and tier are not known here yet.

Revision ID: e8854a4a11b2
Revises: 6cd4062900de
Create Date: 2026-12-04 20:37:56.875382
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import tessera_shared.db

revision: str = "e8854a4a11b2"
down_revision: str | None = "6cd4062900de"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "known_customers",
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("owner_id", sa.String(length=200), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=True),
        sa.Column("tier", sa.String(length=20), server_default="ordinary", nullable=False),
        sa.Column("tier_changed_at", tessera_shared.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("merged_into", sa.Uuid(), nullable=True),
        sa.Column("erased_at", tessera_shared.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.Column("updated_at", tessera_shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("customer_id", name=op.f("pk_known_customers")),
    )
    with op.batch_alter_table("known_customers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_known_customers_owner_id"), ["owner_id"], unique=False)
    op.execute(
        "INSERT INTO known_customers (customer_id, name, updated_at)"
        " SELECT customer_id, customer_name, updated_at FROM credit_profiles WHERE customer_name IS NOT NULL"
    )


def downgrade() -> None:
    with op.batch_alter_table("known_customers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_known_customers_owner_id"))
    op.drop_table("known_customers")
