"""Custom field values in SQL: the expression of each type, the search properties and list
filters and sorts built on it, and the per-field index that serves them on PostgreSQL.

The key is spelled into the SQL as a literal (keys match ``KEY_PATTERN``: no quoting to escape),
never as a parameter: a PostgreSQL expression index serves only the very expression it was built
on, and a generic plan of a parameterised ``->> $1`` would not match it.

=============  ==========================================  ===========================================
type           PostgreSQL (index, ``(expr, id)`` btree)    SQLite (scans)
=============  ==========================================  ===========================================
text, enum,    ``custom_fields ->> 'k'``                   ``json_extract(custom_fields, '$.k')``
user, date,
boolean
number         ``CAST(custom_fields ->> 'k' AS NUMERIC)``  ``CAST(json_extract(..., '$.k') AS REAL)``
money          ``CAST(custom_fields -> 'k' ->> 'amount'    ``CAST(json_extract(..., '$.k.amount')
               AS NUMERIC)``                               AS REAL)``
multi_enum     ``custom_fields -> 'k'`` (GIN               ``EXISTS (SELECT 1 FROM json_each(...))``
               ``jsonb_path_ops``; ``@> '["v"]'``)
=============  ==========================================  ===========================================
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import Boolean, Float, Numeric, String, cast, exists, func, literal, literal_column, select, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.sql.elements import ColumnElement

from tessera_shared.custom_fields.model import FIELD_NAME, KEY_PATTERN, Definition, value_kind
from tessera_shared.errors import InvalidInput
from tessera_shared.search import Prop, Searchable

log = logging.getLogger(__name__)

PROPERTY_PATTERN = r"^custom_fields\.[a-z][a-z0-9_]{0,39}$"
LIST_OPERATORS = ("eq", "neq", "lt", "lte", "gt", "gte", "has")
_LIST_PARAM = re.compile(r"^custom_fields\.([a-z][a-z0-9_]{0,39})(?:\[([a-z]+)\])?$")


def _safe(key: str) -> str:
    if not re.fullmatch(KEY_PATTERN, key):
        raise ValueError(f"not a custom field key: {key!r}")
    return key


def text_expr(column: Any, key: str, dialect: str, *, path: str | None = None) -> ColumnElement[Any]:
    """The value of ``key`` (or of its member ``path``) as text (SQLite: as JSON's scalar)."""
    key = _safe(key)
    if dialect == "postgresql":
        if path is None:
            expr: ColumnElement[Any] = column.op("->>", return_type=String())(literal_column(f"'{key}'"))
            return expr
        inner = column.op("->")(literal_column(f"'{key}'"))
        member: ColumnElement[Any] = inner.op("->>", return_type=String())(literal_column(f"'{path}'"))
        return member
    where = f"$.{key}" if path is None else f"$.{key}.{path}"
    return func.json_extract(column, literal_column(f"'{where}'"))


def value_expr(column: Any, definition: Definition, dialect: str) -> ColumnElement[Any]:
    """What filters compare and the index holds (see the table above)."""
    kind = value_kind(definition.type)
    if kind == "number":
        raw = text_expr(column, definition.key, dialect, path="amount" if definition.type == "money" else None)
        return cast(raw, Numeric()) if dialect == "postgresql" else cast(raw, Float())
    if kind == "multi":
        key = _safe(definition.key)
        if dialect == "postgresql":
            whole: ColumnElement[Any] = column.op("->")(literal_column(f"'{key}'"))
            return whole
        return func.json_extract(column, literal_column(f"'$.{key}'"))
    return text_expr(column, definition.key, dialect)


def _contains(column: Any, definition: Definition, dialect: str) -> Any:
    key = _safe(definition.key)

    def condition(value: str) -> ColumnElement[bool]:
        if dialect == "postgresql":
            inner = column.op("->")(literal_column(f"'{key}'"))
            held: ColumnElement[bool] = inner.op("@>", return_type=Boolean())(literal([value], type_=JSONB()))
            return held
        each = func.json_each(column, literal_column(f"'$.{key}'")).table_valued("value")
        return exists(select(literal_column("1")).select_from(each).where(each.c.value == value))

    return condition


def _bool(dialect: str) -> Any:
    if dialect == "postgresql":
        return lambda b: "true" if b else "false"
    return lambda b: 1 if b else 0


def prop_of(column: Any, definition: Definition, dialect: str) -> Prop:
    """A custom field as a search property (``custom_fields.<key>``); ranges for numbers, money
    amounts and dates; ``contains_token`` (one value) for multi_enum."""
    expr = value_expr(column, definition, dialect)
    kind = definition.type
    if kind == "multi_enum":
        return Prop(expr, "text", nullable=True, filterable=False, token=_contains(column, definition, dialect))
    # Sorts by the very expression its index holds (PostgreSQL), records without a value last.
    sortable = not definition.archived
    if kind in ("number", "money"):
        return Prop(expr, "decimal", nullable=True, sortable=sortable, json_numbers=kind == "number")
    if kind == "date":
        return Prop(expr, "date", nullable=True, sortable=sortable, bind=lambda d: d.isoformat())
    if kind == "boolean":
        return Prop(expr, "bool", nullable=True, sortable=sortable, bind=_bool(dialect))
    if kind == "enum":
        return Prop(expr, "enum", definition.values, nullable=True, sortable=sortable)
    return Prop(expr, "text", nullable=True, sortable=sortable)


def props_of(column: Any, definitions: Iterable[Definition], dialect: str) -> dict[str, Prop]:
    return {f"{FIELD_NAME}.{d.key}": prop_of(column, d, dialect) for d in definitions}


def list_conditions(
    column: Any, definitions: Mapping[str, Definition], params: Iterable[tuple[str, str]], dialect: str
) -> list[ColumnElement[bool]]:
    """A list's ``?custom_fields.<key>=v`` (equality; a multi_enum holds v) and
    ``?custom_fields.<key>[lt|lte|gt|gte|neq]=v``, ``[has]=true|false``: every parameter ANDed,
    or one 422 naming each bad parameter (location ``query``)."""
    errors: list[dict[str, str]] = []
    conditions: list[ColumnElement[bool]] = []
    search = Searchable(resource="CustomFields", id_column=None, properties={})
    for name, raw in params:
        if not name.startswith(f"{FIELD_NAME}."):
            continue
        match = _LIST_PARAM.match(name)
        definition = definitions.get(match.group(1)) if match else None
        if match is None or definition is None:
            errors.append(_query_error(name, "no such custom field here"))
            continue
        operator = match.group(2) or "eq"
        if operator not in LIST_OPERATORS:
            errors.append(_query_error(name, f"operators: {', '.join(LIST_OPERATORS)}"))
            continue
        prop = prop_of(column, definition, dialect)
        value: Any = raw
        if operator == "has":
            if raw not in ("true", "false"):
                errors.append(_query_error(name, "true or false"))
                continue
            operator, value = ("has_property" if raw == "true" else "not_has_property"), None
        elif definition.type == "multi_enum" and operator == "eq":
            operator = "contains_token"
        elif definition.type == "boolean":
            if raw not in ("true", "false"):
                errors.append(_query_error(name, "true or false"))
                continue
            value = raw == "true"
        try:
            conditions.append(search.condition_of(prop, name, operator, value))
        except InvalidInput as exc:
            errors.append(_query_error(name, exc.message))
    if errors:
        raise InvalidInput.of(errors)
    return conditions


def _query_error(name: str, message: str) -> dict[str, str]:
    return {"field": name[:200], "location": "query", "message": message, "type": "value_error"}


def index_name(table: str, key: str) -> str:
    return f"ix_cf_{table}_{_safe(key)}"[:63]


def index_ddl(table: str, id_column: str, definition: Definition) -> str:
    """``CREATE INDEX CONCURRENTLY IF NOT EXISTS`` of one field (PostgreSQL)."""
    key = _safe(definition.key)
    name = index_name(table, key)
    kind = value_kind(definition.type)
    if kind == "multi":
        target = f"(({FIELD_NAME} -> '{key}') jsonb_path_ops)"
        return f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {name} ON {table} USING gin {target}"
    if kind == "number":
        inner = (
            f"({FIELD_NAME} -> '{key}' ->> 'amount')" if definition.type == "money" else f"({FIELD_NAME} ->> '{key}')"
        )
        expr = f"(CAST({inner} AS NUMERIC))"
    else:
        expr = f"({FIELD_NAME} ->> '{key}')"
    return f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {name} ON {table} ({expr}, {id_column})"


async def ensure_index(engine: AsyncEngine, table: str, id_column: str, definition: Definition) -> str | None:
    """Build the field's index if it is missing (PostgreSQL; SQLite scans): outside any
    transaction, concurrently (writes go on), once across replicas (an advisory lock on the
    index's name), and again if a crash left it invalid. Returns the index's name."""
    if engine.dialect.name != "postgresql":
        return None
    name = index_name(table, definition.key)
    async with engine.connect() as conn:
        conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text("SELECT pg_advisory_lock(hashtext(:n))"), {"n": name})
        try:
            valid = await conn.scalar(
                text(
                    "SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                    "WHERE c.relname = :n AND c.relnamespace = current_schema()::regnamespace"
                ),
                {"n": name},
            )
            if valid is True:
                return name
            if valid is False:
                await conn.execute(text(f"DROP INDEX CONCURRENTLY IF EXISTS {name}"))
            await conn.execute(text(index_ddl(table, id_column, definition)))
            log.info("custom field index %s built", name)
        finally:
            await conn.execute(text("SELECT pg_advisory_unlock(hashtext(:n))"), {"n": name})
    return name
