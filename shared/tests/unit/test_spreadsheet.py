"""CSV exports: every cell quoted, and no cell a spreadsheet could read as a formula (issue 17, item 7)."""

from __future__ import annotations

import csv
import io
import itertools
import re

import pytest

from tessera_shared.spreadsheet import csv_line, csv_lines, safe_cell

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ("=1+1", "'=1+1"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("-2", "'-2"),
        ("+4930123", "+4930123"),
        ("Ada", "Ada"),
        (None, ""),
        ("+49 =x", "'+49 =x"),
        (7, "7"),
        ("x;=1+1", "x;'=1+1"),
        ("x,=1+1", "x,'=1+1"),
        ("a;b,c", "a;b,c"),
        ("x\t@y", "x\t'@y"),
        ("x\n=cmd|' /C calc'!A0", "x\n'=cmd|' /C calc'!A0"),
        ("\t=x", "'\t'=x"),
        ("x;+49", "x;'+49"),
        ("a = b; c - d", "a = b; c - d"),  # a formula character after a space is not at a cell start
    ],
)
def test_safe_cell(value: object, cell: str) -> None:
    assert safe_cell(value) == cell


@pytest.mark.parametrize("separator", [",", ";", "\t"])
def test_no_cell_starts_a_formula_whichever_separator_a_reader_assumes(separator: str) -> None:
    values = ["x;=1+1", "y,=2+2", "z\t-3", "@w", "plain", "+4930123", 'q\r\n=HYPERLINK("http://x")']
    line = csv_line(values)
    assert line.endswith("\r\n")
    # With the quotes understood: the values come back, one cell each.
    assert next(csv.reader(io.StringIO(line))) == [safe_cell(v) for v in values]
    # Split as a careless reader would (quotes ignored, any separator, any line break).
    for raw_line in line.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        for cell in raw_line.split(separator):
            text = cell.lstrip('"')
            assert not text.startswith(FORMULA_START) or text.rstrip('"') == "+4930123", (separator, cell, line)


def test_every_cell_is_quoted() -> None:
    assert csv_line(["a", None, 1]) == '"a","","1"\r\n'


def test_the_quick_check_misses_no_formula_start() -> None:
    """safe_cell looks for a formula start with one search before rewriting: every string over a
    small alphabet of separators, formula characters and letters is made what the rewrite alone
    makes of it."""
    rewrite = re.compile(r"(?:^|(?<=[,;\t\r\n]))(?=[=+\-@\t\r])")
    alphabet = [",", ";", "\t", "\r", "\n", "=", "+", "-", "@", "a", "1", " "]
    for length in range(1, 5):
        for chars in itertools.product(alphabet, repeat=length):
            text = "".join(chars)
            expected = text if re.fullmatch(r"\+?[0-9]+", text) else rewrite.sub("'", text)
            assert safe_cell(text) == expected, repr(text)


def test_csv_lines_is_csv_line_per_row() -> None:
    rows: list[list[object]] = [["=1+1", None, 3], ["a;@b", "", "x"]]
    assert csv_lines(rows) == "".join(csv_line(r) for r in rows)
