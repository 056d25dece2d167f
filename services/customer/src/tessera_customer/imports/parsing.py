"""Bulk-import rows as pure functions: CSV and JSON lines into the POST /v1/customers schema,
each row validated on its own, every error named by line and field."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import orjson
from pydantic import ValidationError

from tessera_customer.customers.schemas import CustomerCreate
from tessera_shared.errors import InvalidInput

TOP_LEVEL = ("kind", "name", "email", "phone", "owner_id", "relation", "relationship_type", "external_id")
SEGMENTATION = {
    "gender": "demographic",
    "age_band": "demographic",
    "occupation": "demographic",
    "education": "demographic",
    "country": "geographic",
    "region": "geographic",
    "city": "geographic",
    "climate_zone": "geographic",
    "lifestyle": "psychographic",
    "social_status": "psychographic",
    "preferences": "psychographic",
}
LISTS = ("tags", "preferences")  # ";"-separated in a CSV cell
LIST_SEPARATOR = ";"
ATTRIBUTE_PREFIX = "attr."  # a CSV column "attr.<name>" is a custom attribute
CSV_COLUMNS = frozenset({*TOP_LEVEL, *SEGMENTATION, "tags"})
NEWLINE = re.compile(r"\r\n|\r|\n")


@dataclass(frozen=True)
class RowError:
    line: int
    field: str
    message: str


class HeaderError(InvalidInput):
    """The file as a whole cannot be read (no header, unknown columns): nothing is imported (422)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(field, message)
        self.field = field


def check_csv_header(header: list[str]) -> None:
    if not header:
        raise HeaderError("body", "the CSV has no header line")
    unknown = [c for c in header if c not in CSV_COLUMNS and not (c.startswith(ATTRIBUTE_PREFIX) and len(c) > 5)]
    if unknown:
        raise HeaderError(
            unknown[0],
            f"unknown column(s) {', '.join(unknown)}; known: {', '.join(sorted(CSV_COLUMNS))}"
            f" and {ATTRIBUTE_PREFIX}<name>",
        )
    if "kind" not in header or "name" not in header:
        raise HeaderError("kind" if "kind" not in header else "name", "the CSV needs the columns kind and name")
    seen: set[str] = set()
    for column in header:
        if column in seen:
            raise HeaderError(column, f"column {column} appears twice")
        seen.add(column)


def csv_record(cells: dict[str, str]) -> dict[str, Any]:
    """One CSV row as the JSON body POST /v1/customers takes (empty cells are left out)."""
    record: dict[str, Any] = {}
    segmentation: dict[str, dict[str, Any]] = {}
    attributes: dict[str, str] = {}
    for column, raw in cells.items():
        value = (raw or "").strip()
        if not value:
            continue
        parsed: Any = [v.strip() for v in value.split(LIST_SEPARATOR) if v.strip()] if column in LISTS else value
        if column.startswith(ATTRIBUTE_PREFIX):
            attributes[column[len(ATTRIBUTE_PREFIX) :]] = value
        elif column in SEGMENTATION:
            segmentation.setdefault(SEGMENTATION[column], {})[column] = parsed
        else:
            record[column] = parsed
    if segmentation:
        record["segmentation"] = segmentation
    if attributes:
        record["custom_attributes"] = attributes
    return record


def read_csv(pieces: Iterable[str]) -> Iterator[tuple[int, dict[str, Any] | RowError]]:
    """(line, record) per data row of the text in ``pieces`` (any split); the header is line 1.
    Raises HeaderError before any row."""
    reader = csv.reader(physical_lines(non_empty(pieces)))
    header = [h.strip() for h in next(reader, [])]
    check_csv_header(header)
    try:
        for cells in reader:
            line = reader.line_num
            if not any(c.strip() for c in cells):
                continue
            if len(cells) != len(header):
                yield line, RowError(line, "row", f"{len(cells)} cells for {len(header)} columns")
                continue
            yield line, csv_record(dict(zip(header, cells, strict=True)))
    except csv.Error as exc:
        yield reader.line_num, RowError(reader.line_num, "row", f"unreadable CSV: {exc}")


def read_ndjson(pieces: Iterable[str]) -> Iterator[tuple[int, dict[str, Any] | RowError]]:
    """(line, record) per non-blank line: each line one JSON object shaped like POST /v1/customers."""
    for line, raw in enumerate(split_on_newline(non_empty(pieces)), start=1):
        if not raw.strip():
            continue
        try:
            record = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            yield line, RowError(line, "row", f"not JSON: {exc}")
            continue
        if not isinstance(record, dict):
            yield line, RowError(line, "row", "each line must be a JSON object")
            continue
        yield line, record


def non_empty(pieces: Iterable[str]) -> Iterator[str]:
    """The pieces, once one holds more than whitespace; a file of nothing else is refused."""
    held: list[str] = []
    rest = iter(pieces)
    for piece in rest:
        held.append(piece)
        if piece.strip():
            break
    else:
        raise HeaderError("body", "the file is empty")
    yield from held
    yield from rest


def physical_lines(pieces: Iterable[str]) -> Iterator[str]:
    """Lines with their endings, cut where io.StringIO(newline="") cuts (\r\n, \r, \n), whatever the pieces."""
    rest = ""
    for piece in pieces:
        text, start = rest + piece, 0
        for match in NEWLINE.finditer(text):
            if match.end() == len(text) and match.group() == "\r":
                break  # perhaps the first half of a \r\n split between two pieces
            yield text[start : match.end()]
            start = match.end()
        rest = text[start:]
    if rest:
        yield rest


def split_on_newline(pieces: Iterable[str]) -> Iterator[str]:
    """What "".join(pieces).split("\n") gives, a line at a time (not str.splitlines: JSON strings may hold U+2028)."""
    rest = ""
    for piece in pieces:
        lines = (rest + piece).split("\n")
        rest = lines.pop()
        yield from lines
    yield rest


def csv_field(loc: tuple[int | str, ...]) -> str:
    """The CSV column a validation error belongs to: ('segmentation', 'demographic', 'gender') -> 'gender'."""
    if loc and loc[0] == "segmentation" and len(loc) >= 3:
        return str(loc[2])
    if loc and loc[0] == "custom_attributes" and len(loc) >= 2:
        return ATTRIBUTE_PREFIX + str(loc[1])
    return str(loc[0]) if loc else "row"


def json_field(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc) or "row"


def validate(line: int, record: dict[str, Any], *, csv_columns: bool) -> CustomerCreate | list[RowError]:
    """The row through the API's own schema; an import row also needs its external_id."""
    try:
        data = CustomerCreate.model_validate(record)
    except ValidationError as exc:
        name = csv_field if csv_columns else json_field
        return [RowError(line, name(tuple(e["loc"])), e["msg"]) for e in exc.errors(include_url=False)]
    if data.external_id is None:
        return [RowError(line, "external_id", "required for import: it makes a re-import create nothing twice")]
    return data
