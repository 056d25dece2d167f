"""Document what every operation can answer besides success: RFC 9457 problem details.

FastAPI documents only 422, and as plain JSON; a generated client should know that every
operation may answer problem+json (401, 403, 404, 409, 412, 413, 422, 429, 5xx).
"""

from __future__ import annotations

from typing import Any

PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "RFC 9457 problem details",
    "required": ["type", "title", "status"],
    "properties": {
        "type": {"type": "string", "description": "stable problem type, e.g. urn:tessera:problem:not-found"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "request_id": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {"type": "object", "properties": {
                "field": {"type": "string"}, "location": {"type": "string"},
                "message": {"type": "string"}, "type": {"type": "string"}}},
        },
    },
    "additionalProperties": True,
}
_PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
_PROBLEM_CONTENT = {"application/problem+json": {"schema": _PROBLEM_REF}}


def add_problem_responses(doc: dict[str, Any]) -> dict[str, Any]:
    doc.setdefault("components", {}).setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
    for operations in doc.get("paths", {}).values():
        for method, op in operations.items():
            if not isinstance(op, dict) or method == "parameters":
                continue
            responses = op.setdefault("responses", {})
            if "422" in responses:
                responses["422"] = {"description": "Invalid input; `errors` names each field",
                                    "content": _PROBLEM_CONTENT}
            for code, description in (("4XX", "A client error, as problem details"),
                                      ("5XX", "A server error, as problem details")):
                responses.setdefault(code, {"description": description, "content": _PROBLEM_CONTENT})
            for code, response in responses.items():
                if code[0] in "45" and code not in ("422", "4XX", "5XX"):
                    response["content"] = _PROBLEM_CONTENT
    return doc
