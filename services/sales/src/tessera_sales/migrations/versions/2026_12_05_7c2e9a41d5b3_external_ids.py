"""deals, leads and activities get external_id (nullable, unique): what a batch upsert finds them by
(issue 23, item 1)

Revision ID: 7c2e9a41d5b3
Revises: c64567a380b0
Create Date: 2026-12-05 02:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from tessera_shared.migrations import referring_rows_kept

revision: str = "7c2e9a41d5b3"
down_revision: str | None = "c64567a380b0"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("deals", "leads", "activities")


def upgrade() -> None:
    for table in TABLES:
        # On SQLite the batch recreates the table: the rows referring to it (a deal's lines and
        # stage history) are kept, as the drop would delete them by cascade.
        with referring_rows_kept(table), op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("external_id", sa.String(length=200), nullable=True))
            batch_op.create_unique_constraint(batch_op.f(f"uq_{table}_external_id"), ["external_id"])


def downgrade() -> None:
    for table in TABLES:
        with referring_rows_kept(table), op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(batch_op.f(f"uq_{table}_external_id"), type_="unique")
            batch_op.drop_column("external_id")
