"""Bulk-import rows as pure functions: CSV and JSON lines into a resource's create schema, each
row validated on its own, every error named by line and field."""

from __future__ import annotations

import contextlib
import csv
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar, get_args, get_origin

import orjson
from pydantic import BaseModel, ValidationError

from tessera_shared.custom_fields.model import CellText
from tessera_shared.errors import InvalidInput

NEWLINE = re.compile(r"\r\n|\r|\n")
M = TypeVar("M", bound=BaseModel)


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


def plain_record(cells: dict[str, str]) -> dict[str, Any]:
    """A CSV row as a JSON body of the same names (empty cells are left out)."""
    return {column: value for column, raw in cells.items() if (value := (raw or "").strip())}


@dataclass(frozen=True)
class CsvShape:
    """How a resource's CSV maps to its create schema: the known columns (and the names of
    further ones, e.g. ``attr.<name>``), the ones every file needs, and a row as a JSON body."""

    columns: frozenset[str]
    required: tuple[str, ...]
    record: Callable[[dict[str, str]], dict[str, Any]] = plain_record
    extra_column: Callable[[str], bool] = field(default=lambda _: False)
    extra_hint: str = ""
    # The CSV column a validation error belongs to (its location in the schema -> the column).
    field_of: Callable[[tuple[int | str, ...]], str] = field(default=lambda loc: str(loc[0]) if loc else "row")


def check_csv_header(header: list[str], shape: CsvShape) -> None:
    if not header:
        raise HeaderError("body", "the CSV has no header line")
    unknown = [c for c in header if c not in shape.columns and not shape.extra_column(c)]
    if unknown:
        raise HeaderError(
            unknown[0],
            f"unknown column(s) {', '.join(unknown)}; known: {', '.join(sorted(shape.columns))}{shape.extra_hint}",
        )
    if missing := [c for c in shape.required if c not in header]:
        raise HeaderError(missing[0], f"the CSV needs the columns {' and '.join(shape.required)}")
    seen: set[str] = set()
    for column in header:
        if column in seen:
            raise HeaderError(column, f"column {column} appears twice")
        seen.add(column)


def read_csv(pieces: Iterable[str], shape: CsvShape) -> Iterator[tuple[int, dict[str, Any] | RowError]]:
    """(line, record) per data row of the text in ``pieces`` (any split); the header is line 1.
    Raises HeaderError before any row."""
    reader = csv.reader(physical_lines(non_empty(pieces)))
    header = [h.strip() for h in next(reader, [])]
    check_csv_header(header, shape)
    try:
        for cells in reader:
            line = reader.line_num
            if not any(c.strip() for c in cells):
                continue
            if len(cells) != len(header):
                yield line, RowError(line, "row", f"{len(cells)} cells for {len(header)} columns")
                continue
            yield line, shape.record(dict(zip(header, cells, strict=True)))
    except csv.Error as exc:
        yield reader.line_num, RowError(reader.line_num, "row", f"unreadable CSV: {exc}")


def read_ndjson(pieces: Iterable[str]) -> Iterator[tuple[int, dict[str, Any] | RowError]]:
    """(line, record) per non-blank line: each line one JSON object shaped like the create body."""
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


def json_field(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc) or "row"


def validate(
    line: int, record: dict[str, Any], model: type[M], field_of: Callable[[tuple[int | str, ...]], str]
) -> M | list[RowError]:
    """The row through the API's own create schema; an import row also needs its external_id
    (it makes a re-import create nothing twice)."""
    try:
        data = model.model_validate(record)
    except ValidationError as exc:
        return [RowError(line, field_of(tuple(e["loc"])), e["msg"]) for e in exc.errors(include_url=False)]
    if getattr(data, "external_id", None) is None:
        return [RowError(line, "external_id", "required for import: it makes a re-import create nothing twice")]
    return data


def _is_int(annotation: Any) -> bool:
    return annotation is int or int in get_args(annotation) or any(_is_int(a) for a in get_args(annotation))


def _is_list(annotation: Any) -> bool:
    return get_origin(annotation) is list or any(_is_list(a) for a in get_args(annotation))


FIELD_PREFIX = "custom_fields."  # a CSV column "custom_fields.<key>": a typed custom field's value
_FIELD_COLUMN = re.compile(r"^custom_fields\.[a-z][a-z0-9_]{0,39}$")


def model_shape(model: type[BaseModel], required: tuple[str, ...]) -> CsvShape:
    """The CSV of a flat create schema: a column per field that is not a list (lists come in
    JSON lines), cells as they are but whole numbers, which a CSV cannot type. A schema with
    ``custom_fields`` takes a ``custom_fields.<key>`` column per field instead, each cell typed by
    the field's definition when the row is written (``custom_fields.model.from_text``)."""
    typed = "custom_fields" in model.model_fields
    columns = frozenset(
        n for n, f in model.model_fields.items() if not _is_list(f.annotation) and not (typed and n == "custom_fields")
    )
    ints = frozenset(n for n in columns if _is_int(model.model_fields[n].annotation))

    def record(cells: dict[str, str]) -> dict[str, Any]:
        out = plain_record(cells)
        for name in ints & out.keys():
            with contextlib.suppress(ValueError):  # not a number: the schema says so, by column
                out[name] = int(out[name])
        fields = {c[len(FIELD_PREFIX) :]: CellText(out.pop(c)) for c in list(out) if c.startswith(FIELD_PREFIX)}
        if fields:
            out["custom_fields"] = fields
        return out

    def field_of(loc: tuple[int | str, ...]) -> str:
        if len(loc) >= 2 and loc[0] == "custom_fields":
            return f"{FIELD_PREFIX}{loc[1]}"
        return str(loc[0]) if loc else "row"

    if not typed:
        return CsvShape(columns=columns, required=required, record=record)
    return CsvShape(
        columns=columns,
        required=required,
        record=record,
        extra_column=lambda c: bool(_FIELD_COLUMN.match(c)),
        extra_hint=f" and {FIELD_PREFIX}<key>",
        field_of=field_of,
    )
