"""one known customers copy (tessera_shared.known_customers)

The desk's copy gains the shared columns it lacked (owner_id with its index, status, version) and
the tier's server default. An erased customer's name is the shared marker "[erased]" (the desk
wrote ""); a row not yet named stays "".

Revision ID: 1ab1f852c7de
Revises: 7ab1500f93ba
Create Date: 2026-12-04 20:36:21.554121
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "1ab1f852c7de"
down_revision: str | None = "7ab1500f93ba"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("known_customers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("owner_id", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("status", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("version", sa.Integer(), server_default="1", nullable=False))
        batch_op.alter_column(
            "tier", existing_type=sa.String(length=20), existing_nullable=False, server_default="ordinary"
        )
        batch_op.create_index(batch_op.f("ix_known_customers_owner_id"), ["owner_id"], unique=False)
    op.execute("UPDATE known_customers SET name = '[erased]' WHERE erased_at IS NOT NULL")


def downgrade() -> None:
    op.execute("UPDATE known_customers SET name = '' WHERE erased_at IS NOT NULL")
    with op.batch_alter_table("known_customers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_known_customers_owner_id"))
        batch_op.alter_column("tier", existing_type=sa.String(length=20), existing_nullable=False, server_default=None)
        batch_op.drop_column("version")
        batch_op.drop_column("status")
        batch_op.drop_column("owner_id")
