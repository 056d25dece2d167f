"""Pool index; pattern-ops indexes for prefix search on PostgreSQL

Revision ID: babe656c598f
Revises: ca7e05ec5f33
Create Date: 2026-11-23 20:43:08.455388
"""

from collections.abc import Sequence

from alembic import op

revision: str = "babe656c598f"
down_revision: str | None = "ca7e05ec5f33"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# LIKE 'prefix%' can only use a btree with pattern ops (unless the database collation is C).
PREFIX_SEARCH = ("name_key", "email", "phone")


def upgrade() -> None:
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.create_index("ix_customers_owner_active_at", ["owner_active_at"], unique=False)
    if op.get_bind().dialect.name == "postgresql":
        for column in PREFIX_SEARCH:
            op.drop_index(f"ix_customers_{column}", table_name="customers")
            op.create_index(
                f"ix_customers_{column}", "customers", [column], postgresql_ops={column: "varchar_pattern_ops"}
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for column in PREFIX_SEARCH:
            op.drop_index(f"ix_customers_{column}", table_name="customers")
            op.create_index(f"ix_customers_{column}", "customers", [column])
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.drop_index("ix_customers_owner_active_at")
