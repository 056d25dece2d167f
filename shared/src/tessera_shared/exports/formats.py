"""Rows as file bytes: CSV that a spreadsheet opens as data (tessera_shared.spreadsheet), or JSON lines."""

from __future__ import annotations

from collections.abc import Sequence
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


def csv_value(value: Any, kind: str) -> object:
    """A cell's value before it is made safe (tessera_shared.spreadsheet.safe_cell)."""
    if value is None:
        return None
    if kind == "list":
        return LIST_SEPARATOR.join(str(v) for v in value)
    if kind == "money":
        return _money(value)
    if kind == "time":
        return value.isoformat().replace("+00:00", "Z") if isinstance(value, datetime) else value
    if kind == "json":
        return orjson.dumps(value).decode()
    if kind == "bool":
        return "true" if value else "false"
    return value


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
        return csv_lines([csv_value(v, k) for v, k in zip(row, kinds, strict=True)] for row in rows).encode()
    names = [f.name for f in fields]
    option = orjson.OPT_APPEND_NEWLINE | orjson.OPT_UTC_Z
    return b"".join(
        orjson.dumps(
            {n: json_value(v, k) for n, v, k in zip(names, row, kinds, strict=True)}, default=str, option=option
        )
        for row in rows
    )
