"""CSV that a spreadsheet opens as data, never as formulas (CSV injection), for every CSV export.

Two defences, both always on:

- every cell is quoted (``csv.QUOTE_ALL``), so a ``,`` or ``;`` inside a value never splits it
  into cells, whichever separator the spreadsheet assumes;
- a formula character (``= + - @``, tab, carriage return) at the start of a value, or right
  after a ``,``, ``;``, tab or line break inside it, gets a ``'`` in front of it, so a reader
  that ignores the quotes (or splits on another separator) still finds no cell starting with
  a formula. A value made of digits with an optional leading ``+`` (a normalised phone
  number) is a number to a spreadsheet, not a formula, and is written as it is.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable

# Where a spreadsheet may see a cell begin: the value's start, or after a separator or line break.
_FORMULA_AT_A_CELL_START = re.compile(r"(?:^|(?<=[,;\t\r\n]))(?=[=+\-@\t\r])")
_PLAIN_NUMBER = re.compile(r"\+?[0-9]+")
# Whether a value holds a formula start at all (what _FORMULA_AT_A_CELL_START would rewrite).
_RISKY = re.compile(r"(?:^|[,;\t\r\n])[=+\-@\t\r]")


def safe_cell(value: object) -> str:
    """The text of ``value`` with every formula start neutralised (``None`` is an empty cell)."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    if _RISKY.search(text) is None or _PLAIN_NUMBER.fullmatch(text):  # most cells: one search
        return text
    return _FORMULA_AT_A_CELL_START.sub("'", text)


def csv_line(values: Iterable[object]) -> str:
    """One CSV record (CRLF-terminated), every cell quoted and made safe."""
    buffer = io.StringIO()
    csv.writer(buffer, quoting=csv.QUOTE_ALL, lineterminator="\r\n").writerow([safe_cell(v) for v in values])
    return buffer.getvalue()


def csv_lines(rows: Iterable[Iterable[object]]) -> str:
    """Many CSV records at once (one writer for all: bulk exports), each as ``csv_line`` writes it."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
    writer.writerows([safe_cell(v) for v in row] for row in rows)
    return buffer.getvalue()
