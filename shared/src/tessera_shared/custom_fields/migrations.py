"""Migration steps: the definitions table and a records table's ``custom_fields`` column.

In a service's Alembic revision::

    from tessera_shared.custom_fields.migrations import add_custom_fields_column, create_definitions_table

    def upgrade() -> None:
        create_definitions_table()
        add_custom_fields_column("deals")

The per-field expression indexes are not migrations: the service creates them when a field is
defined (``tessera_shared.custom_fields.indexes``), concurrently, outside any transaction.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import tessera_shared.db
from tessera_shared.custom_fields.tables import COLUMN, TABLE


def create_definitions_table() -> None:
    op.create_table(
        TABLE,
        sa.Column("entity", sa.String(length=20), nullable=False),
        sa.Column("key", sa.String(length=40), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("type", sa.String(length=20), nullable=False),
        sa.Column("options", tessera_shared.db.JSONType, nullable=False),
        sa.Column("required", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("is_unique", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("personal", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("archived_at", tessera_shared.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", tessera_shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", tessera_shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.PrimaryKeyConstraint("entity", "key", name=op.f(f"pk_{TABLE}")),
    )
    op.create_index("ix_custom_field_definitions_entity", TABLE, ["entity"], unique=False)


def drop_definitions_table() -> None:
    op.drop_index("ix_custom_field_definitions_entity", table_name=TABLE)
    op.drop_table(TABLE)


def add_custom_fields_column(table: str) -> None:
    """``custom_fields`` on ``table``: ``{}`` for the rows already there."""
    with op.batch_alter_table(table) as batch:
        batch.add_column(sa.Column(COLUMN, tessera_shared.db.JSONType, server_default="{}", nullable=False))


def drop_custom_fields_column(table: str) -> None:
    with op.batch_alter_table(table) as batch:
        batch.drop_column(COLUMN)
