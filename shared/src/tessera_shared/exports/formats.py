"""Rows as file bytes: CSV that a spreadsheet opens as data (tessera_shared.spreadsheet), or JSON lines.

CSV is encoded a page at a time, column by column (a bulk export writes millions of cells): each
column's values are made text by one converter for its kind, then the whole column is searched
once for a formula start; only a column where one is found is made safe cell by cell
(``safe_cell``, the same rule), and the page is written by one ``csv.writer``. The file is the
one ``csv_lines`` writes from the same values, cell by cell.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import Decimal
from functools import partial
from operator import is_not
from typing import Any, Literal

import orjson
from sqlalchemy import JSON, ColumnElement, DateTime, Text, Uuid, cast, type_coerce

from tessera_shared.db.types import UTCDateTime
from tessera_shared.exports.sources import ExportField
from tessera_shared.spreadsheet import csv_line, safe_cell

Format = Literal["csv", "ndjson"]
MEDIA_TYPES: dict[str, str] = {"csv": "text/csv; charset=utf-8", "ndjson": "application/x-ndjson"}
LIST_SEPARATOR = ";"
CENT = Decimal("0.01")


def _money(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value)).quantize(CENT)


def _identity(value: Any) -> Any:
    return value


def _csv_list(value: Any) -> Any:
    return None if value is None else LIST_SEPARATOR.join(str(v) for v in value)


def _csv_time(value: Any) -> Any:
    return value.isoformat().replace("+00:00", "Z") if isinstance(value, datetime) else value


def _csv_json(value: Any) -> Any:
    return None if value is None else orjson.dumps(value).decode()


def _csv_bool(value: Any) -> Any:
    return None if value is None else ("true" if value else "false")


# A cell's value before it is made safe (tessera_shared.spreadsheet.safe_cell), by field kind.
CSV_VALUE: dict[str, Callable[[Any], Any]] = {
    "text": _identity,
    "number": _identity,
    "money": _money,
    "time": _csv_time,
    "list": _csv_list,
    "json": _csv_json,
    "bool": _csv_bool,
}


def csv_value(value: Any, kind: str) -> object:
    return CSV_VALUE[kind](value)


def json_value(value: Any, kind: str) -> Any:
    if value is None:
        return None
    if kind == "money":
        return str(_money(value))
    if isinstance(value, Decimal):
        return str(value)
    return value


def _text(value: Any) -> str | None:
    return value if value is None or type(value) is str else str(value)


def _column_time(values: Sequence[Any]) -> Sequence[Any]:
    """Times as ``_csv_time`` writes them (ISO 8601, UTC as ``Z``), dates as ISO dates: a page's
    column at once by orjson, a seventh of the CPU of ``isoformat`` per value. The two differ only
    for an offset with seconds (a zone's local mean time before 1900), never for the UTC times of
    UTCDateTime columns; a value orjson cannot write is made text one by one."""
    try:
        return orjson.loads(orjson.dumps(values, option=orjson.OPT_UTC_Z))  # type: ignore[no-any-return]
    except TypeError:
        return [v.isoformat().replace("+00:00", "Z") if isinstance(v, datetime) else _text(v) for v in values]


def _column_money(values: Sequence[Any]) -> list[Any]:
    return [None if v is None else str((v if type(v) is Decimal else Decimal(str(v))).quantize(CENT)) for v in values]


def _column_list(values: Sequence[Any]) -> list[Any]:
    return [None if v is None else LIST_SEPARATOR.join(map(str, v)) for v in values]


def _column_json(values: Sequence[Any]) -> list[Any]:
    return [None if v is None else orjson.dumps(v).decode() for v in values]


def _column_list_text(values: Sequence[Any]) -> list[Any]:
    """A JSON column read as its text (``select_columns``): orjson parses it (a list of tags)."""
    return _column_list([None if v is None else orjson.loads(v) for v in values])


def _column_json_text(values: Sequence[Any]) -> list[Any]:
    # json.loads, as the column's own type reads it (orjson would turn an integer past 64 bits into a float).
    return _column_json([None if v is None else json.loads(v) for v in values])


def _column_bool(values: Sequence[Any]) -> list[Any]:
    return [None if v is None else ("true" if v else "false") for v in values]


# A page's column as text (None: an empty cell), by field kind; "text" and "number" are written as
# they are when every value is already text (checked as the column is searched, below).
CSV_COLUMN: dict[str, Callable[[Sequence[Any]], Sequence[Any]]] = {
    "time": _column_time,
    "money": _column_money,
    "list": _column_list,
    "json": _column_json,
    "bool": _column_bool,
}
# The same for a JSON column read as its text.
CSV_COLUMN_OF_TEXT: dict[str, Callable[[Sequence[Any]], Sequence[Any]]] = {
    "list": _column_list_text,
    "json": _column_json_text,
}
_not_none = partial(is_not, None)
# A formula start anywhere in a column's values joined by NUL: at a value's start (the string's
# start or after a NUL) or after a separator or line break inside it (spreadsheet._RISKY, per cell).
# The joined column starts with a NUL too: a pattern that starts with a character class is searched
# for that class first (four times faster than one that starts with ``^|``).
_RISKY_IN_COLUMN = re.compile(r"[\x00,;\t\r\n][=+\-@\t\r]")


def _safe_column(values: Sequence[Any]) -> Sequence[Any]:
    """The column with each cell as ``safe_cell`` makes it: one search of the joined column when
    no value holds a formula start (most columns of most pages), cell by cell only when one does."""
    try:
        joined = "\x00" + "\x00".join(filter(_not_none, values))
    except TypeError:  # not all text (numbers, ids): as text first
        values = [_text(v) for v in values]
        joined = "\x00" + "\x00".join(filter(_not_none, values))
    if _RISKY_IN_COLUMN.search(joined) is None:
        return values
    return [safe_cell(v) for v in values]


def _as_text(fmt: Format, field: ExportField) -> bool:
    """Whether CSV reads ``field`` as its JSON text: a JSON column whose value is written as text
    anyway, parsed here by orjson rather than by the column type's stdlib json, value by value."""
    return fmt == "csv" and field.kind in CSV_COLUMN_OF_TEXT and isinstance(field.column.type, JSON)


def _selected(fmt: Format, field: ExportField, dialect: str) -> ColumnElement[Any]:
    column = field.column
    if _as_text(fmt, field):
        return cast(column, Text)
    if fmt != "csv" or dialect != "postgresql":
        return column
    # What the driver gives as it is, without the column type's processing value by value: a
    # UUID as its text (asyncpg's own UUID would be made a uuid.UUID, then text again), a time
    # as asyncpg's aware UTC datetime (UTCDateTime would convert it to UTC again).
    if isinstance(column.type, Uuid):
        return cast(column, Text)
    if isinstance(column.type, UTCDateTime):
        return type_coerce(column, DateTime(timezone=True))
    return column


def selected_key(key: ColumnElement[Any], dialect: str) -> ColumnElement[Any]:
    """The key a page is walked by, as selected: a UUID key as its text on PostgreSQL."""
    return cast(key, Text) if dialect == "postgresql" and isinstance(key.type, Uuid) else key


def select_columns(fmt: Format, fields: Sequence[ExportField], dialect: str = "postgresql") -> list[ColumnElement[Any]]:
    """What a page selects for ``fields`` on ``dialect`` (``encode`` expects rows read with these)."""
    return [_selected(fmt, f, dialect) for f in fields]


def csv_columns(fields: Sequence[ExportField], columns: Sequence[Sequence[Any]]) -> str:
    """A page of rows given as its columns (values in the order of ``fields``, read with
    ``select_columns``) as CSV text."""
    converters: list[Callable[[Sequence[Any]], Sequence[Any]]] = [
        (CSV_COLUMN_OF_TEXT if _as_text("csv", f) else CSV_COLUMN).get(f.kind, _identity) for f in fields
    ]
    safe = [_safe_column(convert(c)) for convert, c in zip(converters, columns, strict=True)]
    buffer = io.StringIO()
    csv.writer(buffer, quoting=csv.QUOTE_ALL, lineterminator="\r\n").writerows(zip(*safe, strict=True))
    return buffer.getvalue()


def header(fmt: Format, fields: Sequence[ExportField]) -> bytes:
    return csv_line([f.name for f in fields]).encode() if fmt == "csv" else b""


def encode_columns(fmt: Format, fields: Sequence[ExportField], columns: Sequence[Sequence[Any]]) -> bytes:
    """A page given as its columns (in the order of ``fields``, read with ``select_columns``) as
    the format's bytes."""
    if fmt == "csv":
        return csv_columns(fields, columns).encode()
    return encode(fmt, fields, list(zip(*columns, strict=True)))


def encode(fmt: Format, fields: Sequence[ExportField], rows: Sequence[Sequence[Any]]) -> bytes:
    """``rows`` (values in the order of ``fields``, read with ``select_columns``) as the format's bytes."""
    if fmt == "csv":
        columns = list(zip(*rows, strict=True)) if rows else [() for _ in fields]
        return csv_columns(fields, columns).encode()
    kinds = [f.kind for f in fields]
    names = [f.name for f in fields]
    option = orjson.OPT_APPEND_NEWLINE | orjson.OPT_UTC_Z
    return b"".join(
        orjson.dumps(
            {n: json_value(v, k) for n, v, k in zip(names, row, kinds, strict=True)}, default=str, option=option
        )
        for row in rows
    )
