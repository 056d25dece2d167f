"""Bulk export CSV, encoded a page at a time column by column (tessera_shared.exports.formats),
is byte for byte the file ``csv_lines`` writes cell by cell: the same values, the same formula
neutralisation (issue 23, item 5)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import JSON, Column, MetaData, String, Table

from tessera_shared.exports import formats
from tessera_shared.exports.sources import ExportField, Kind
from tessera_shared.spreadsheet import csv_lines

T = Table("t", MetaData(), Column("s", String()), Column("j", JSON()))
RISKY = [
    "=1+1",
    "@SUM(A1)",
    "-2",
    "+4930123",
    "+49 =x",
    "x;=1+1",
    "x,=1+1",
    "x\t@y",
    "a\n=cmd",
    "a\r=x",
    "\t=x",
    "\r-x",
    "",
]
NOW = datetime(2026, 12, 5, 8, 15, 0, tzinfo=UTC)
COLUMNS: dict[Kind, list[Any]] = {
    "text": [*RISKY, None, "Ada", "a = b; c - d", "nul\x00=x", "plain", 7, -3, uuid.UUID(int=5)],
    "number": [0, 7, -3, 2.5, -0.5, Decimal("-1.20"), None, 10**30, 1, 2, 3, 4, 5, 6, 7, 8],
    "money": [Decimal("12.5"), Decimal("-12.345"), 3, None, "7.125", Decimal("0"), *[Decimal(i) for i in range(11)]],
    "time": [
        *(NOW, NOW + timedelta(microseconds=120), None, date(2026, 1, 2), datetime(2026, 1, 1, 0, 0)),
        *(NOW.astimezone(timezone(timedelta(hours=2))), *[NOW + timedelta(days=i) for i in range(11)]),
    ],
    "list": [["a", "=b"], [], None, ["x;=1", "@y"], ["vip"], [1, 2], *[["t"]] * 11],
    "json": [{"a": 1, "b": "=x"}, None, [], {"n": -1}, "=s", {"k": "v"}, *[{}] * 11],
    "bool": [True, False, None, *[True] * 14],
}


def reference(fields: list[ExportField], rows: list[list[Any]]) -> bytes:
    """Cell by cell, as the export wrote CSV before it encoded by column."""
    return csv_lines([formats.csv_value(v, f.kind) for f, v in zip(fields, row, strict=True)] for row in rows).encode()


def test_columns_encode_as_cell_by_cell() -> None:
    n = min(len(v) for v in COLUMNS.values())
    fields = [ExportField(kind, T.c.s, kind) for kind in COLUMNS]
    for shift in range(len(RISKY) + 5):  # every value in every row position, risky or not
        rows = [[COLUMNS[f.kind][(i + shift) % len(COLUMNS[f.kind])] for f in fields] for i in range(n)]
        assert formats.encode("csv", fields, rows) == reference(fields, rows)


@pytest.mark.parametrize("value", RISKY)
def test_one_formula_start_in_a_column_of_plain_values_is_neutralised(value: str) -> None:
    fields = [ExportField("name", T.c.s), ExportField("tags", T.c.s, "list")]
    rows: list[list[Any]] = [["plain", ["a", "b"]]] * 3 + [[value, ["a", value]]] + [["plain", None]]
    assert formats.encode("csv", fields, rows) == reference(fields, rows)


def test_a_column_without_a_formula_start_is_written_as_it_is() -> None:
    fields = [ExportField("name", T.c.s)]
    rows = [[f"Customer {i}"] for i in range(1000)] + [["x;=1+1"]]
    out = formats.encode("csv", fields, rows).decode()
    assert out.startswith('"Customer 0"\r\n') and out.endswith('"x;\'=1+1"\r\n')
    assert formats.encode("csv", fields, rows[:-1]) == reference(fields, rows[:-1])


def test_a_json_column_is_read_as_its_text_in_csv() -> None:
    tags, extra = ExportField("tags", T.c.j, "list"), ExportField("extra", T.c.j, "json")
    assert [str(c) for c in formats.select_columns("csv", [tags, extra])] == ["CAST(t.j AS TEXT)"] * 2
    assert all(c is T.c.j for c in formats.select_columns("ndjson", [tags, extra]))
    decoded: list[list[Any]] = [[["=a", "b"], {"x": [1, "=y"]}], [None, None], [["c"], {"f": 0.1, "k": "a;-b"}]]
    texts = [[None if v is None else json.dumps(v) for v in row] for row in decoded]
    assert formats.encode("csv", [tags, extra], texts) == reference([tags, extra], decoded)
