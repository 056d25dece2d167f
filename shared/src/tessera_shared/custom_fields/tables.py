"""The ``custom_field_definitions`` table a service adds to its own metadata, and the
``custom_fields`` column of its records (JSONB on PostgreSQL, JSON on SQLite)."""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Index, Integer, MetaData, String, Table, Text, false

from tessera_shared.db import JSONType, UTCDateTime

TABLE = "custom_field_definitions"
COLUMN = "custom_fields"


def definitions_table(metadata: MetaData) -> Table:
    table = Table(
        TABLE,
        metadata,
        Column("entity", String(20), primary_key=True),
        Column("key", String(40), primary_key=True),
        Column("label", String(200), nullable=False),
        Column("type", String(20), nullable=False),
        # [{"value": ..., "label": ...}] in order (enum, multi_enum).
        Column("options", JSONType, nullable=False),
        Column("required", Boolean(), nullable=False, server_default=false()),
        Column("is_unique", Boolean(), nullable=False, server_default=false()),
        Column("personal", Boolean(), nullable=False, server_default=false()),
        Column("description", Text(), nullable=True),
        Column("archived_at", UTCDateTime(), nullable=True),
        Column("created_by", String(200), nullable=False),
        Column("created_at", UTCDateTime(), nullable=False),
        Column("updated_at", UTCDateTime(), nullable=False),
        Column("version", Integer(), nullable=False, server_default="1"),
    )
    Index("ix_custom_field_definitions_entity", table.c.entity)
    return table


def custom_fields_column() -> Column[object]:
    """A record's values, ``{key: value}`` (an empty object when none): a fresh column per table.

    With SQLModel: ``custom_fields: dict[str, Any] = Field(default_factory=dict,
    sa_column=custom_fields_column())``."""
    return Column(COLUMN, JSONType, nullable=False, server_default="{}")
