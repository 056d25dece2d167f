"""custom fields: the customer and contact definitions, the records' values, and custom_attributes moved into them

Revision ID: c5d8e2f1a934
Revises: b9e4d2a7c318
Create Date: 2026-12-05 05:45:00.000000

The untyped ``custom_attributes`` of customers move into ``custom_fields``: each key in use that
is a valid field key (``^[a-z][a-z0-9_]{0,39}$``) becomes a customer field definition, ``personal``
(the attributes were erased with the customer), typed ``boolean`` when every value is one,
``number`` when every value is a number, else ``text`` (a value that is not a string written as
its JSON). Its values leave ``custom_attributes``; keys that are not valid field keys stay there
(the deprecated field still shows them). On PostgreSQL each new field gets its index here.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from alembic import op

from tessera_shared.custom_fields import migrations
from tessera_shared.custom_fields.model import KEY_PATTERN, MAX_TEXT, Definition
from tessera_shared.custom_fields.sql import index_ddl

revision: str = "c5d8e2f1a934"
down_revision: str | None = "b9e4d2a7c318"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _kind(values: list[Any]) -> str:
    if all(isinstance(v, bool) for v in values):
        return "boolean"
    if all(isinstance(v, int | float) and not isinstance(v, bool) and abs(v) < 1e15 for v in values):
        return "number"
    return "text"


def _value(kind: str, value: Any) -> Any:
    if kind == "number":
        number = Decimal(str(value)).quantize(Decimal("0.0001"))
        return int(number) if number == number.to_integral_value() else float(number)
    if kind == "boolean":
        return value
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    return text[:MAX_TEXT] if text.strip() else None


def _move_custom_attributes() -> None:
    import re

    bind = op.get_bind()
    customers = sa.table(
        "customers",
        sa.column("id", sa.Uuid()),
        sa.column("custom_attributes", sa.JSON()),
        sa.column("custom_fields", sa.JSON()),
    )
    rows = [(i, a) for i, a in bind.execute(sa.select(customers.c.id, customers.c.custom_attributes)) if a]
    valid = re.compile(KEY_PATTERN)
    by_key: dict[str, list[Any]] = {}
    for _, attributes in rows:
        for key, value in attributes.items():
            if valid.match(key) and value is not None:
                by_key.setdefault(key, []).append(value)
    if not by_key:
        return
    kinds = {key: _kind(values) for key, values in by_key.items()}
    now = datetime.now(UTC)
    definitions = sa.table(
        "custom_field_definitions",
        *(sa.column(c) for c in ("entity", "key", "label", "type", "required", "is_unique", "personal")),
        *(sa.column(c) for c in ("description", "created_by", "version")),
        sa.column("options", sa.JSON()),
        sa.column("created_at", sa.DateTime(timezone=True)),
        sa.column("updated_at", sa.DateTime(timezone=True)),
    )
    op.bulk_insert(
        definitions,
        [
            {
                "entity": "customer",
                "key": key,
                "label": key,
                "type": kind,
                "options": [],
                "required": False,
                "is_unique": False,
                "personal": True,
                "description": "moved from custom_attributes",
                "created_by": "migration",
                "created_at": now,
                "updated_at": now,
                "version": 1,
            }
            for key, kind in sorted(kinds.items())
        ],
    )
    for record_id, attributes in rows:
        values = {k: _value(kinds[k], v) for k, v in attributes.items() if k in kinds and v is not None}
        kept = {k: v for k, v in attributes.items() if k not in kinds}
        bind.execute(
            customers.update()
            .where(customers.c.id == record_id)
            .values(custom_fields={k: v for k, v in values.items() if v is not None}, custom_attributes=kept)
        )
    if bind.dialect.name == "postgresql":
        for key, kind in kinds.items():
            ddl = index_ddl("customers", "id", Definition(entity="customer", key=key, label=key, type=kind))
            op.execute(ddl.replace(" CONCURRENTLY", ""))


def upgrade() -> None:
    migrations.create_definitions_table()
    migrations.add_custom_fields_column("customers")
    migrations.add_custom_fields_column("contacts")
    _move_custom_attributes()


def downgrade() -> None:
    # The moved values go back into custom_attributes (as the field values are stored).
    bind = op.get_bind()
    customers = sa.table(
        "customers",
        sa.column("id", sa.Uuid()),
        sa.column("custom_attributes", sa.JSON()),
        sa.column("custom_fields", sa.JSON()),
    )
    for record_id, attributes, values in bind.execute(
        sa.select(customers.c.id, customers.c.custom_attributes, customers.c.custom_fields)
    ):
        if values:
            bind.execute(
                customers.update()
                .where(customers.c.id == record_id)
                .values(custom_attributes={**(attributes or {}), **values})
            )
    migrations.drop_custom_fields_column("contacts")
    migrations.drop_custom_fields_column("customers")
    migrations.drop_definitions_table()
