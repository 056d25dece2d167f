"""The published JSON Schemas are exactly as strict as the models that consume the events.

For every event type: a valid ``data`` is built from its published schema, then each
constrained field in turn (decimals, bounded integers, enums, patterns, lengths, at any depth,
inside arrays too) is set to boundary values of its kind; the published schema (what a
partner's validator says) and the pydantic model (what Tessera's consumers say) must accept
and refuse the same ones. Values of the field's own JSON type are compared both ways; formats
(uuid, date-time) only one way, schema-valid => model-valid, as pydantic is a tolerant reader
of them (it also takes a UUID without hyphens).
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Iterator
from typing import Any

import jsonschema
import pytest
from pydantic import ValidationError

from tessera_shared.events.envelope import event_model
from tessera_shared.events.schemas import all_schemas

SCHEMAS = all_schemas()

DECIMALS = [
    "0",
    "-0",
    "0.0",
    "0.0001",
    "0.00001",
    "1",
    "-1",
    "1.5",
    "1.50000",
    "99.9999",
    "100",
    "100.0000",
    "100.0001",
    "101",
    "9999999999.9999",
    "10000000000",
    "99999999999999",
    "100000000000000",
    "9999999999999999.9999",
    "10000000000000000",
    "-9999999999999999",
    "-10000000000000000",
    "1" * 20,
    "1e3",
    "007",
    "+1",
    " 1",
    ".5",
    "1.",
    "NaN",
    "",
    1,
    0.1,
    None,
]


def resolve(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    return resolve(root["$defs"][ref.split("/")[-1]], root) if ref else schema


def non_null(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    schema = resolve(schema, root)
    if "anyOf" in schema:
        return resolve(next(s for s in schema["anyOf"] if s.get("type") != "null"), root)
    return schema


def example(schema: dict[str, Any], root: dict[str, Any]) -> Any:
    s = non_null(schema, root)
    if "enum" in s:
        return s["enum"][0]
    if "const" in s:
        return s["const"]
    kind = s.get("type")
    if kind == "object":
        return {k: example(v, root) for k, v in s.get("properties", {}).items()}
    if kind == "array":
        return [example(s.get("items", {}), root)]
    if kind == "integer":
        return s.get("minimum", 1)
    if kind == "boolean":
        return True
    if kind == "string":
        if s.get("format") == "uuid":
            return str(uuid.uuid4())
        if s.get("format") == "date-time":
            return "2026-11-23T20:17:20Z"
        if s.get("format") == "date":
            return "2026-11-23"
        if s.get("examples"):
            return s["examples"][0]
        if s.get("pattern") == "^[A-Z]{3}$":
            return "EUR"
        return "x"
    raise AssertionError(f"no example for {s}")


def leaves(schema: dict[str, Any], root: dict[str, Any], path: tuple = ()) -> Iterator[tuple[tuple, dict, bool]]:
    """(path, schema, nullable) of every scalar field; list items are addressed as index 0."""
    s = resolve(schema, root)
    nullable = "anyOf" in s and any(x.get("type") == "null" for x in s["anyOf"])
    s = non_null(s, root)
    if s.get("type") == "object":
        for k, v in s.get("properties", {}).items():
            yield from leaves(v, root, (*path, k))
    elif s.get("type") == "array":
        yield from leaves(s.get("items", {}), root, (*path, 0))
    else:
        yield path, s, nullable


def candidates(s: dict[str, Any]) -> tuple[list[Any], bool]:
    """Boundary values for a field, and whether to compare both ways."""
    if "enum" in s:
        return [*s["enum"], s["enum"][0].upper() + "x", "", 1], True
    kind = s.get("type")
    if kind == "string" and "pattern" in s and "examples" in s:
        return DECIMALS, True
    if kind == "integer":
        lo, hi = s.get("minimum"), s.get("maximum")
        values: list[object] = [0, -1, 1, 365, 366, 2**31, -(2**31), 1.5]
        values += [v for b in (lo, hi) if b is not None for v in (b - 1, b, b + 1)]
        return values, True
    if kind == "string" and s.get("format") in ("uuid", "date-time", "date"):
        return [example(s, {}), "x", "", 1], False
    if kind == "string":
        values = ["", "x", "EUR", "eur", "EURO", "E1R", 1, None]
        if "maxLength" in s:
            values += ["y" * s["maxLength"], "y" * (s["maxLength"] + 1)]
        return values, "pattern" in s or "maxLength" in s or "minLength" in s
    if kind == "boolean":
        return [True, False, 1, "x"], False
    return [], False


def put(data: dict[str, Any], path: tuple, value: Any) -> dict[str, Any]:
    data = copy.deepcopy(data)
    target: Any = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return data


def model_accepts(event_type: str, data: dict[str, Any]) -> bool:
    model = event_model(event_type)
    assert model is not None
    try:
        model.model_validate(data)
    except ValidationError:
        return False
    return True


@pytest.mark.parametrize("event_type", sorted(SCHEMAS))
def test_schema_and_model_agree_at_the_boundaries(event_type: str) -> None:
    schema = SCHEMAS[event_type]
    validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())
    base = example(schema, schema)
    assert validator.is_valid(base) and model_accepts(event_type, base), base
    disagreements = []
    for path, leaf, nullable in leaves(schema, schema):
        values, both_ways = candidates(leaf)
        if nullable:
            values = [*values, None]
        for value in values:
            data = put(base, path, value)
            by_schema, by_model = validator.is_valid(data), model_accepts(event_type, data)
            if by_schema != by_model and (both_ways or by_schema):
                disagreements.append(f"{'.'.join(map(str, path))}={value!r}: schema {by_schema}, model {by_model}")
    assert disagreements == []


def test_quantities_and_rates_are_bounded_in_the_published_schema() -> None:
    """The defects found: 20 integer digits passed the schema, quantities <= 0 and rates > 100 too."""
    schema = SCHEMAS["deal.won"]
    validator = jsonschema.Draft202012Validator(schema)
    base = example(schema, schema)
    assert not validator.is_valid(put(base, ("amount",), "1" * 20))
    assert not validator.is_valid(put(base, ("line_items", 0, "quantity"), "0"))
    assert not validator.is_valid(put(base, ("line_items", 0, "quantity"), "-1"))
    assert not validator.is_valid(put(base, ("line_items", 0, "discount_percent"), "100.5"))
    assert validator.is_valid(put(base, ("line_items", 0, "discount_percent"), "100"))
