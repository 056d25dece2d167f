"""Many rows into one table in one statement, the fast way on each database.

On PostgreSQL the rows travel as one array per column and are inserted with
``INSERT .. SELECT .. FROM unnest(arrays)``: a statement of as many parameters as the table has
columns, whatever the number of rows (a multi-row ``VALUES`` list has one parameter per cell, is
split into several statements past asyncpg's 32,767 parameters, and PostgreSQL plans each of them
afresh: for 1,000 customers of 21 columns that cost 5x the unnest statement). On SQLite it is
SQLAlchemy's multi-row INSERT, as before. The values are the ones a Core ``insert(table)`` takes
(each column type's own conversion runs on them), so both paths store the same thing; a JSON
column's values are written by orjson on PostgreSQL (the text is cast to jsonb: the same value as
the type's ``json.dumps`` gives, at a tenth of the CPU; a value orjson refuses goes through the
type's own conversion).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

import orjson
from sqlalchemy import JSON, Column, String, Table, insert, text
from sqlalchemy.ext.asyncio import AsyncSession

from tessera_shared.db.schema import dialect_name, upsert

_COLLATE = re.compile(r"\s+COLLATE\s+\S+$")


def _array_element(column: Column[Any], dialect: Any) -> tuple[str, bool]:
    """(the element type of the column's array parameter, whether the value travels as JSON text)."""
    kind = column.type
    impl = getattr(kind, "impl", kind)  # a TypeDecorator's underlying type
    if isinstance(kind, JSON) or isinstance(impl, JSON):
        return "text", True
    if isinstance(impl, String):
        return "text", False  # stored as the column's varchar (too long a value fails as it would anyway)
    return _COLLATE.sub("", kind.compile(dialect=dialect)), False


def _unnest_insert(
    table: Table, names: Sequence[str], dialect: Any, conflict: Sequence[str], returning: str | None
) -> Any:
    element = {n: _array_element(table.c[n], dialect) for n in names}
    arrays = ", ".join(f"CAST(:p{i} AS {element[n][0]}[])" for i, n in enumerate(names))
    values = ", ".join(f"CAST(v.c{i} AS jsonb)" if element[n][1] else f"v.c{i}" for i, n in enumerate(names))
    aliases = ", ".join(f"c{i}" for i in range(len(names)))
    columns = ", ".join(f'"{n}"' for n in names)
    sql = f'INSERT INTO "{table.name}" ({columns}) SELECT {values} FROM unnest({arrays}) AS v({aliases})'  # noqa: S608 - table and column names from the mapping only
    if conflict:
        sql += " ON CONFLICT (" + ", ".join(f'"{c}"' for c in conflict) + ") DO NOTHING"
    if returning:
        sql += f' RETURNING "{returning}"'
    return text(sql)


def _json_text(value: Any, process: Callable[[Any], Any]) -> Any:
    if value is None:
        return process(value)  # the type decides: SQL NULL or JSON null
    try:
        return orjson.dumps(value).decode()
    except TypeError:  # past 64 bits, a non-str key, ...: the type's own serialiser
        return process(value)


def _null_everywhere(column: Column[Any], name: str, rows: Sequence[dict[str, Any]], dialect: Any) -> bool:
    """Whether ``column`` would be NULL in every row given or not (None everywhere, no default,
    not JSON, whose type may write None as JSON null)."""
    if column.default is not None or column.server_default is not None or not column.nullable:
        return False
    return not _array_element(column, dialect)[1] and all(r[name] is None for r in rows)


async def insert_many(
    session: AsyncSession,
    table: Table,
    rows: Sequence[dict[str, Any]],
    *,
    skip_conflicts_on: Sequence[str] = (),
    returning: str | None = None,
) -> list[Any]:
    """Insert ``rows`` (dicts of the same keys, column names) into ``table`` in one statement; with
    ``skip_conflicts_on`` a row that would break that unique key is left out (``ON CONFLICT DO
    NOTHING``). Answers the ``returning`` column of the rows inserted (empty without it)."""
    if not rows:
        return []
    names = list(rows[0])
    keys = rows[0].keys()
    same_keys = all(r.keys() == keys for r in rows)
    # A column left out gets its Python-side default from a Core insert: a constant one is added
    # here; one computed per row (a callable, a sequence) leaves the rows to the Core insert.
    defaults = {c.name: c.default for c in table.columns if c.name not in names and c.default is not None}
    computed = any(not getattr(d, "is_scalar", False) for d in defaults.values())
    if dialect_name(session) != "postgresql" or not same_keys or computed:
        stmt: Any = upsert(session, table) if skip_conflicts_on else insert(table)
        if skip_conflicts_on:
            stmt = stmt.on_conflict_do_nothing(index_elements=list(skip_conflicts_on))
        if returning:
            return list((await session.scalars(stmt.returning(table.c[returning]), list(rows))).all())
        await session.execute(stmt, list(rows))
        return []
    if defaults:
        rows = [{**r, **{n: d.arg for n, d in defaults.items()}} for r in rows]  # type: ignore[attr-defined]
        names += list(defaults)
    # A column NULL in every row and without a default is left out (it is NULL all the same): its
    # array of Nones cost asyncpg a type check per element (a new customer has ~16 such columns).
    dialect = session.get_bind().dialect
    names = [n for n in names if not _null_everywhere(table.c[n], n, rows, dialect)] or names
    params: dict[str, list[Any]] = {}
    for i, name in enumerate(names):
        column = table.c[name]
        process = column.type._cached_bind_processor(dialect)  # the conversion a Core insert applies
        json_text = _array_element(column, dialect)[1]
        values = [r[name] for r in rows]
        if json_text and process is not None:
            values = [_json_text(v, process) for v in values]
        elif process is not None:
            values = [process(v) for v in values]
        if json_text and any(v is not None and not isinstance(v, str) for v in values):
            raise TypeError(f"{table.name}.{name}: the JSON type did not serialise its values")
        params[f"p{i}"] = values
    stmt = _unnest_insert(table, names, dialect, skip_conflicts_on, returning)
    result = await session.execute(stmt, params)
    return list(result.scalars().all()) if returning else []
