"""The migration steps that add the ownership transfer table (tessera_shared.ownership.tables)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import tessera_shared.db
from tessera_shared.ownership.tables import TABLE


def create_ownership_table() -> None:
    op.create_table(
        TABLE,
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("from_user", sa.String(length=200), nullable=False),
        sa.Column("to_user", sa.String(length=200), nullable=False),
        sa.Column("resources", tessera_shared.db.JSONType, nullable=False),
        sa.Column("only_open", sa.Boolean(), nullable=False),
        sa.Column("requested_by", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("attempt", sa.Integer(), server_default="0", nullable=False),
        sa.Column("counts", tessera_shared.db.JSONType, nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", tessera_shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("started_at", tessera_shared.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("finished_at", tessera_shared.db.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ownership_transfers")),
    )
    op.create_index("ix_ownership_transfers_status_created_at", TABLE, ["status", "created_at"], unique=False)


def drop_ownership_table() -> None:
    op.drop_index("ix_ownership_transfers_status_created_at", table_name=TABLE)
    op.drop_table(TABLE)
