"""one known customers copy (tessera_shared.known_customers)

The merge pointer merged_into_id is renamed merged_into (its values kept); the tier columns are
added; status may be unknown (NULL). Names are normalised to the shared conventions: a row made by
a merge before its customer.created was named "[erased]" without being erased, and is now UNNAMED
(""); statuses "merged" and "erased" that sales wrote itself become NULL (merged_into and erased_at
tell those apart).

Revision ID: c34c3426e5ad
Revises: ffee5401aead
Create Date: 2026-12-04 20:28:37.711729
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import tessera_shared.db

revision: str = "c34c3426e5ad"
down_revision: str | None = "ffee5401aead"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("known_customers", schema=None) as batch_op:
        batch_op.alter_column("merged_into_id", new_column_name="merged_into", existing_type=sa.Uuid())
        batch_op.add_column(sa.Column("tier", sa.String(length=20), server_default="ordinary", nullable=False))
        batch_op.add_column(sa.Column("tier_changed_at", tessera_shared.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.alter_column("status", existing_type=sa.String(length=20), nullable=True)
    op.execute("UPDATE known_customers SET name = '' WHERE name = '[erased]' AND erased_at IS NULL")
    op.execute("UPDATE known_customers SET status = NULL WHERE status IN ('merged', 'erased')")


def downgrade() -> None:
    op.execute(
        "UPDATE known_customers SET status = CASE WHEN merged_into IS NOT NULL THEN 'merged'"
        " WHEN erased_at IS NOT NULL THEN 'erased' ELSE 'prospect' END WHERE status IS NULL"
    )
    op.execute("UPDATE known_customers SET name = '[erased]' WHERE name = '' AND merged_into IS NOT NULL")
    with op.batch_alter_table("known_customers", schema=None) as batch_op:
        batch_op.alter_column("status", existing_type=sa.String(length=20), nullable=False)
        batch_op.drop_column("tier_changed_at")
        batch_op.drop_column("tier")
        batch_op.alter_column("merged_into", new_column_name="merged_into_id", existing_type=sa.Uuid())
