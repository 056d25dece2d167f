"""Rows as file bytes: CSV that a spreadsheet opens as data (tessera_shared.spreadsheet), or JSON lines."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

import orjson

from tessera_shared.exports.sources import ExportField
from tessera_shared.spreadsheet import csv_line, csv_lines

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


def header(fmt: Format, fields: Sequence[ExportField]) -> bytes:
    return csv_line([f.name for f in fields]).encode() if fmt == "csv" else b""


def encode(fmt: Format, fields: Sequence[ExportField], rows: Sequence[Sequence[Any]]) -> bytes:
    """``rows`` (values in the order of ``fields``) as the format's bytes."""
    kinds = [f.kind for f in fields]
    if fmt == "csv":
        convert = [CSV_VALUE[k] for k in kinds]
        return csv_lines([c(v) for c, v in zip(convert, row, strict=True)] for row in rows).encode()
    names = [f.name for f in fields]
    option = orjson.OPT_APPEND_NEWLINE | orjson.OPT_UTC_Z
    return b"".join(
        orjson.dumps(
            {n: json_value(v, k) for n, v, k in zip(names, row, kinds, strict=True)}, default=str, option=option
        )
        for row in rows
    )
