"""ownership transfers: the gateway's row of each bulk ownership transfer (its parts)

Revision ID: f8c3a6d1e925
Revises: c5d8e1f2a3b4
Create Date: 2026-12-05 05:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import tessera_shared.db

revision: str = "f8c3a6d1e925"
down_revision: str | None = "c5d8e1f2a3b4"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ownership_transfers",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("from_user", sa.String(length=200), nullable=False),
        sa.Column("to_user", sa.String(length=200), nullable=False),
        sa.Column("resources", tessera_shared.db.JSONType, nullable=False),
        sa.Column("only_open", sa.Boolean(), nullable=False),
        sa.Column("requested_by", sa.String(length=200), nullable=False),
        sa.Column("parts", tessera_shared.db.JSONType, nullable=False),
        sa.Column("created_at", tessera_shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ownership_transfers")),
    )
    op.create_index("ix_ownership_transfers_created_at", "ownership_transfers", ["created_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_ownership_transfers_created_at", table_name="ownership_transfers")
    op.drop_table("ownership_transfers")
