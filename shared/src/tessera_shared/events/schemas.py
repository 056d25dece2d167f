"""JSON Schemas of the event contracts, generated from the pydantic models, and the
compatibility rules that keep published types safe for the consumers already reading them.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import orjson

import tessera_shared.events.contracts  # noqa: F401 - registers every type
from tessera_shared.events.envelope import dataschema_for, public_gateway_url, registered_event_types

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


# RFC 3339 with an offset, as pattern too: in 2020-12 ``format`` is only an annotation unless a
# validator opts in, and the consumers refuse what is not a time.
DATE_TIME_PATTERN = (
    r"^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])"
    r"T([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d{1,9})?(Z|[+-]([01]\d|2[0-3]):[0-5]\d)$"
)
DATE_PATTERN = r"^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$"


def _patterns_for_formats(node: Any) -> None:
    if isinstance(node, dict):
        if node.get("type") == "string" and node.get("format") == "date-time":
            node.setdefault("pattern", DATE_TIME_PATTERN)
        elif node.get("type") == "string" and node.get("format") == "date":
            node.setdefault("pattern", DATE_PATTERN)
        for value in node.values():
            _patterns_for_formats(value)
    elif isinstance(node, list):
        for value in node:
            _patterns_for_formats(value)


def data_schema(event_type: str) -> dict[str, Any]:
    """The schema of ``data`` as it travels (serialisation mode: money is a string)."""
    model = registered_event_types()[event_type]
    schema = model.model_json_schema(mode="serialization")
    _patterns_for_formats(schema)
    return {"$schema": JSON_SCHEMA_DIALECT, "$id": dataschema_for(event_type), **schema}


def producer_of(event_type: str) -> str:
    return registered_event_types()[event_type].producer


def producers_of(event_type: str) -> tuple[str, ...]:
    """Every service publishing the type (a few, e.g. ``custom_field.created``, have several:
    each on its own topic, with its own ``source``)."""
    model = registered_event_types()[event_type]
    return tuple(getattr(model, "producers", (model.producer,)))


def all_schemas() -> dict[str, dict[str, Any]]:
    """Every published type's data schema, a fresh copy per call (callers reshape them).

    Generating them is ~50 ms of pydantic work, paid by every app a process builds (each serves
    its own types): it is done once per set of registered types and kept as JSON."""
    types = frozenset(t for t in registered_event_types() if not t.startswith("test."))
    schemas: dict[str, dict[str, Any]] = orjson.loads(_schemas_json(types, public_gateway_url()))
    return schemas


@cache
def _schemas_json(types: frozenset[str], base_url: str) -> bytes:
    """``base_url``: each schema's ``$id`` is its URL at the public gateway (a setting)."""
    return orjson.dumps({t: data_schema(t) for t in sorted(types)})


def _resolve(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if ref and ref.startswith("#/$defs/"):
        return _resolve(root["$defs"][ref.removeprefix("#/$defs/")], root)
    return schema


def _shape(schema: dict[str, Any], root: dict[str, Any]) -> Any:
    """A comparable summary of a property's type: what a reader relies on."""
    schema = _resolve(schema, root)
    if "anyOf" in schema:
        return ("anyOf", tuple(sorted(repr(_shape(s, root)) for s in schema["anyOf"])))
    if schema.get("type") == "array":
        return ("array", _shape(schema.get("items", {}), root))
    if schema.get("type") == "object" and "properties" in schema:
        return (
            "object",
            tuple(sorted((k, repr(_shape(v, root))) for k, v in schema["properties"].items())),
            tuple(sorted(schema.get("required", []))),
        )
    return (schema.get("type"), schema.get("format"), tuple(schema.get("enum", ())), schema.get("const"))


def breaking_changes(old: dict[str, Any], new: dict[str, Any], path: str = "") -> list[str]:
    """Changes of ``new`` against ``old`` that can break a consumer of ``old``."""
    problems: list[str] = []
    old_props = old.get("properties", {})
    new_props = new.get("properties", {})
    old_required = set(old.get("required", []))
    new_required = set(new.get("required", []))
    for name, old_prop in old_props.items():
        where = f"{path}{name}"
        if name not in new_props:
            problems.append(f"{where}: removed")
            continue
        if name in old_required and name not in new_required:
            problems.append(f"{where}: was always present, may now be missing")
        o, n = _resolve(old_prop, old), _resolve(new_props[name], new)
        if o.get("type") == n.get("type") == "object" and "properties" in o:
            problems += breaking_changes(
                {**o, "$defs": old.get("$defs", {})}, {**n, "$defs": new.get("$defs", {})}, f"{where}."
            )
        elif o.get("type") == n.get("type") == "array":
            oi, ni = _resolve(o.get("items", {}), old), _resolve(n.get("items", {}), new)
            if oi.get("type") == ni.get("type") == "object":
                problems += breaking_changes(
                    {**oi, "$defs": old.get("$defs", {})}, {**ni, "$defs": new.get("$defs", {})}, f"{where}[]."
                )
            elif _shape(oi, old) != _shape(ni, new):
                problems.append(f"{where}: item type changed")
        elif _shape(o, old) != _shape(n, new):
            problems.append(f"{where}: type changed")
    for name in new_required - set(old_props):
        problems.append(f"{path}{name}: new required field")
    return problems


def compatibility_report(baseline: dict[str, dict[str, Any]], current: dict[str, dict[str, Any]]) -> list[str]:
    """Every breaking change from the baseline; a removed type is breaking too."""
    report = []
    for event_type, old in sorted(baseline.items()):
        if event_type not in current:
            report.append(f"{event_type}: type removed (publish a new versioned type beside it instead)")
            continue
        report += [f"{event_type}: {p}" for p in breaking_changes(old, current[event_type])]
    return report
