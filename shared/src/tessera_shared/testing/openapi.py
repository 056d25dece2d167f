"""Checks over a service's OpenAPI document that several services' tests make."""

from __future__ import annotations

from typing import Any

# Response models: ``...Out`` (and ``...OutSelected``, its ?fields= copy), FastAPI's ``-Output``.
_RESPONSE_SUFFIXES = ("Out", "-Output", "Selected")


def _admits_number(schema: Any) -> bool:
    """True if ``schema`` (or any schema inside it) is typed as a JSON number."""
    if isinstance(schema, dict):
        kind = schema.get("type")
        if kind == "number" or (isinstance(kind, list) and "number" in kind):
            return True
        return any(_admits_number(v) for k, v in schema.items() if k not in ("enum", "const", "examples", "example"))
    if isinstance(schema, list):
        return any(_admits_number(v) for v in schema)
    return False


def number_typed_inputs(document: dict[str, Any], *, parameters: bool = True) -> list[str]:
    """Request-side properties (and query parameters) that admit a JSON number: a decimal must be
    a string in requests, so that no client sends a float that is rounded on the way."""
    found = [
        f"{name}.{prop}"
        for name, schema in document["components"]["schemas"].items()
        if not name.endswith(_RESPONSE_SUFFIXES)
        for prop, value in schema.get("properties", {}).items()
        if _admits_number(value)
    ]
    if parameters:
        for path, operations in document["paths"].items():
            for method, operation in operations.items():
                for parameter in operation.get("parameters", []) if isinstance(operation, dict) else []:
                    if _admits_number(parameter.get("schema", {})):
                        found.append(f"{method} {path} {parameter['name']}")
    return found
