"""Migration c5d8e2f1a934 moves the untyped custom_attributes into typed custom fields (issue 24
part 2), on both databases: a personal definition per valid key in use, typed by its values."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy.engine import Connection

import tessera_customer.main as customer_main
from tessera_shared.db import create_engine
from tessera_shared.migrations import alembic_config
from tessera_shared.testing.databases import DatabaseFactory
from tessera_shared.testing.plugin import migrations_of

T0 = datetime(2026, 2, 1, tzinfo=UTC)


def migrate(conn: Connection, revision: str) -> None:
    cfg = alembic_config(migrations_of(customer_main.__file__))
    cfg.attributes["connection"] = conn
    command.upgrade(cfg, revision)


def _filler(column: sa.Column[Any]) -> Any:
    kind = column.type.python_type if not isinstance(column.type, sa.JSON) else dict
    return {str: "x", int: 0, bool: False, dict: {}, datetime: T0}.get(kind, 0)


@pytest.mark.sqlite
async def test_attributes_become_typed_personal_fields(databases: DatabaseFactory, backend: str) -> None:
    a, b = uuid.uuid4(), uuid.uuid4()

    def steps(conn: Connection) -> tuple[list[Any], dict[uuid.UUID, tuple[Any, Any]]]:
        migrate(conn, "b9e4d2a7c318")
        customers = sa.Table("customers", sa.MetaData(), autoload_with=conn)
        required = {
            c.name: _filler(c)
            for c in customers.columns
            if not c.nullable and c.server_default is None and c.name not in ("id", "custom_attributes")
        }
        required.update(tags=[], channels=[], preferences=[], lifetime_values={})
        key = (lambda u: u.hex) if conn.dialect.name == "sqlite" else (lambda u: u)  # CHAR(32) there
        conn.execute(
            sa.insert(customers),
            [
                {
                    **required,
                    "id": key(a),
                    "custom_attributes": {"vat_id": "DE1", "size": 10, "vip": True, "Bad Key": "k"},
                },
                {**required, "id": key(b), "custom_attributes": {"vat_id": 42, "size": 2.5, "vip": False}},
            ],
        )
        migrate(conn, "head")
        defs = conn.execute(
            sa.text("SELECT entity, key, type, personal FROM custom_field_definitions ORDER BY key")
        ).all()
        rows = conn.execute(sa.text("SELECT id, custom_fields, custom_attributes FROM customers")).all()
        return defs, {uuid.UUID(str(r[0])): (r[1], r[2]) for r in rows}

    engine = create_engine(await databases.empty(backend))
    try:
        async with engine.begin() as conn:
            defs, rows = await conn.run_sync(steps)
    finally:
        await engine.dispose()
    assert [tuple(d) for d in defs] == [
        ("customer", "size", "number", True),
        ("customer", "vat_id", "text", True),
        ("customer", "vip", "boolean", True),
    ]

    def parsed(v: Any) -> Any:
        import json

        return json.loads(v) if isinstance(v, str) else v

    assert {k: tuple(parsed(x) for x in v) for k, v in rows.items()} == {
        a: ({"vat_id": "DE1", "size": 10, "vip": True}, {"Bad Key": "k"}),
        b: ({"vat_id": "42", "size": 2.5, "vip": False}, {}),
    }
