"""contacts.external_id (nullable, unique) and an index on contacts.email: what a batch upsert
finds contacts by (issue 23, item 1)

Revision ID: 5a1c7e93b2d4
Revises: 5e7f2b0c9a14
Create Date: 2026-12-05 02:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5a1c7e93b2d4"
down_revision: str | None = "5e7f2b0c9a14"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("external_id", sa.String(length=200), nullable=True))
        batch_op.create_unique_constraint(batch_op.f("uq_contacts_external_id"), ["external_id"])
        batch_op.create_index("ix_contacts_email", ["email"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.drop_index("ix_contacts_email")
        batch_op.drop_constraint(batch_op.f("uq_contacts_external_id"), type_="unique")
        batch_op.drop_column("external_id")
