"""Keyset indexes (column, id) for filtered lists; name_key in C collation for (name_key, id) search pages

Revision ID: 54392a55d2a7
Revises: babe656c598f
Create Date: 2026-11-23 22:58:09.862583
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "54392a55d2a7"
down_revision: str | None = "babe656c598f"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The single-column indexes each become (column, id): a filtered page stops after limit + 1 rows.
KEYSET = ("country", "relation", "rfm_segment", "status")


def _name_key_collation(collation: str | None) -> None:
    # Byte order on PostgreSQL (SQLite's default already): one plain btree then serves LIKE 'abc%' and ORDER BY.
    if op.get_bind().dialect.name == "postgresql":
        op.alter_column(
            "customers",
            "name_key",
            existing_nullable=False,
            type_=sa.String(length=200, collation=collation),
            existing_type=sa.String(length=200),
        )


def upgrade() -> None:
    with op.batch_alter_table("customers", schema=None) as batch_op:
        for column in (*KEYSET, "name_key"):
            batch_op.drop_index(f"ix_customers_{column}")
    _name_key_collation("C")
    with op.batch_alter_table("customers", schema=None) as batch_op:
        for column in (*KEYSET, "name_key"):
            batch_op.create_index(f"ix_customers_{column}_id", [column, "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("customers", schema=None) as batch_op:
        for column in (*KEYSET, "name_key"):
            batch_op.drop_index(f"ix_customers_{column}_id")
    _name_key_collation(None)
    with op.batch_alter_table("customers", schema=None) as batch_op:
        for column in KEYSET:
            batch_op.create_index(f"ix_customers_{column}", [column], unique=False)
        batch_op.create_index(
            "ix_customers_name_key", ["name_key"], unique=False, postgresql_ops={"name_key": "varchar_pattern_ops"}
        )
