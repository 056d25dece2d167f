"""The customer import's CSV: its columns (segmentation variables nested, ``;``-lists, ``attr.<name>``
custom attributes, ``custom_fields.<key>`` typed custom field values) into the POST /v1/customers
schema; the rest is tessera_shared.imports."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from tessera_customer.customers.schemas import CustomerCreate
from tessera_shared.custom_fields.model import CellText
from tessera_shared.imports import parsing
from tessera_shared.imports.parsing import CsvShape, HeaderError, RowError, json_field

__all__ = ["HeaderError", "RowError", "check_csv_header", "csv_field", "csv_record", "read_csv", "read_ndjson"]

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
FIELD_PREFIX = "custom_fields."  # a CSV column "custom_fields.<key>" is a typed custom field's value
CSV_COLUMNS = frozenset({*TOP_LEVEL, *SEGMENTATION, "tags"})


def csv_record(cells: dict[str, str]) -> dict[str, Any]:
    """One CSV row as the JSON body POST /v1/customers takes (empty cells are left out)."""
    record: dict[str, Any] = {}
    segmentation: dict[str, dict[str, Any]] = {}
    attributes: dict[str, str] = {}
    fields: dict[str, CellText] = {}
    for column, raw in cells.items():
        value = (raw or "").strip()
        if not value:
            continue
        parsed: Any = [v.strip() for v in value.split(LIST_SEPARATOR) if v.strip()] if column in LISTS else value
        if column.startswith(ATTRIBUTE_PREFIX):
            # Text from a cell: typed by the field's definition when the attribute names one.
            attributes[column[len(ATTRIBUTE_PREFIX) :]] = CellText(value)
        elif column.startswith(FIELD_PREFIX):
            # Typed by the field's definition when the row is stored (custom_fields.model.from_text).
            fields[column[len(FIELD_PREFIX) :]] = CellText(value)
        elif column in SEGMENTATION:
            segmentation.setdefault(SEGMENTATION[column], {})[column] = parsed
        else:
            record[column] = parsed
    if segmentation:
        record["segmentation"] = segmentation
    if attributes:
        record["custom_attributes"] = attributes
    if fields:
        record["custom_fields"] = fields
    return record


def csv_field(loc: tuple[int | str, ...]) -> str:
    """The CSV column a validation error belongs to: ('segmentation', 'demographic', 'gender') -> 'gender'."""
    if loc and loc[0] == "segmentation" and len(loc) >= 3:
        return str(loc[2])
    if loc and loc[0] == "custom_attributes" and len(loc) >= 2:
        return ATTRIBUTE_PREFIX + str(loc[1])
    if loc and loc[0] == "custom_fields" and len(loc) >= 2:
        return FIELD_PREFIX + str(loc[1])
    return str(loc[0]) if loc else "row"


SHAPE = CsvShape(
    columns=CSV_COLUMNS,
    required=("kind", "name"),
    record=csv_record,
    extra_column=lambda c: (
        (c.startswith(ATTRIBUTE_PREFIX) and len(c) > len(ATTRIBUTE_PREFIX))
        or (c.startswith(FIELD_PREFIX) and len(c) > len(FIELD_PREFIX))
    ),
    extra_hint=f", {ATTRIBUTE_PREFIX}<name> and {FIELD_PREFIX}<key>",
    field_of=csv_field,
)


def check_csv_header(header: list[str]) -> None:
    parsing.check_csv_header(header, SHAPE)


def read_csv(pieces: Iterable[str]) -> Iterator[tuple[int, dict[str, Any] | RowError]]:
    return parsing.read_csv(pieces, SHAPE)


read_ndjson = parsing.read_ndjson


def validate(line: int, record: dict[str, Any], *, csv_columns: bool) -> CustomerCreate | list[RowError]:
    """The row through the API's own schema; an import row also needs its external_id."""
    return parsing.validate(line, record, CustomerCreate, csv_field if csv_columns else json_field)
