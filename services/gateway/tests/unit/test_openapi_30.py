"""The gateway's OpenAPI 3.0.3 rendition (views/openapi.py ``to_openapi_30``): each 3.1 construct
FastAPI writes, as 3.0 says it; and ``/openapi-3.0.json`` serves the merged document so."""

from __future__ import annotations

import copy
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

from tessera_gateway.views.openapi import router, schema_to_30, to_openapi_30


def test_optional_scalars_become_nullable() -> None:
    optional = {"anyOf": [{"type": "string", "maxLength": 5}, {"type": "null"}], "title": "Name"}
    assert schema_to_30(optional) == {"title": "Name", "nullable": True, "type": "string", "maxLength": 5}
    assert schema_to_30({"type": ["integer", "null"]}) == {"type": "integer", "nullable": True}
    assert schema_to_30({"type": "null"}) == {"nullable": True}


def test_an_optional_reference_is_a_nullable_allof() -> None:
    ref = {"$ref": "#/components/schemas/Address"}
    assert schema_to_30({"anyOf": [ref, {"type": "null"}], "description": "where"}) == {
        "description": "where",
        "nullable": True,
        "allOf": [ref],
    }
    # 3.0 ignores a $ref's siblings: they go beside an allOf.
    assert schema_to_30({**ref, "description": "where"}) == {"description": "where", "allOf": [ref]}


def test_unions_keep_their_branches() -> None:
    a, b = {"$ref": "#/components/schemas/A"}, {"$ref": "#/components/schemas/B"}
    assert schema_to_30({"anyOf": [a, b]}) == {"anyOf": [a, b]}
    assert schema_to_30({"anyOf": [a, b, {"type": "null"}]}) == {"anyOf": [a, b], "nullable": True}
    assert schema_to_30({"type": ["string", "integer"]}) == {"anyOf": [{"type": "string"}, {"type": "integer"}]}


def test_keywords_3_0_says_otherwise() -> None:
    assert schema_to_30({"const": "x"}) == {"enum": ["x"]}
    assert schema_to_30({"type": "string", "examples": ["a", "b"]}) == {"type": "string", "example": "a"}
    assert schema_to_30({"type": "number", "exclusiveMinimum": 0}) == {
        "type": "number",
        "minimum": 0,
        "exclusiveMinimum": True,
    }
    assert schema_to_30({"type": "string", "contentMediaType": "text/csv"}) == {"type": "string", "format": "binary"}
    assert schema_to_30({"type": "string", "contentEncoding": "base64"}) == {"type": "string", "format": "byte"}
    assert schema_to_30({"type": "object", "propertyNames": {"maxLength": 3}}) == {
        "type": "object",
        "x-jsonschema-propertyNames": {"maxLength": 3},
    }


def test_nested_schemas_are_converted_and_property_names_left_alone() -> None:
    schema = {
        "type": "object",
        "properties": {
            "const": {"type": "string"},
            "examples": {"type": "array", "items": {"anyOf": [{"type": "integer"}, {"type": "null"}]}},
            "extra": {"type": "object", "additionalProperties": {"type": ["string", "null"]}},
        },
    }
    assert schema_to_30(schema) == {
        "type": "object",
        "properties": {
            "const": {"type": "string"},
            "examples": {"type": "array", "items": {"nullable": True, "type": "integer"}},
            "extra": {"type": "object", "additionalProperties": {"type": "string", "nullable": True}},
        },
    }


DOC: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "t", "version": "1", "summary": "s"},
    "paths": {
        "/things": {
            "get": {
                "parameters": [
                    {
                        "name": "from",
                        "in": "query",
                        "schema": {"anyOf": [{"type": "string", "format": "date"}, {"type": "null"}]},
                    }
                ],
                "responses": {
                    "200": {
                        "description": "ok",
                        "headers": {"ETag": {"schema": {"type": ["string", "null"]}}},
                        "content": {"application/json": {"schema": {"const": 1}, "examples": {"one": {"value": 1}}}},
                    }
                },
            }
        }
    },
    "components": {"schemas": {"Thing": {"type": "object", "examples": [{"a": 1}]}}},
}


def test_the_document_walk() -> None:
    before = copy.deepcopy(DOC)
    out = to_openapi_30(DOC)
    assert before == DOC  # a new document
    assert out["openapi"] == "3.0.3"
    assert "summary" not in out["info"]
    op = out["paths"]["/things"]["get"]
    assert op["parameters"][0]["schema"] == {"nullable": True, "type": "string", "format": "date"}
    response = op["responses"]["200"]
    assert response["headers"]["ETag"]["schema"] == {"type": "string", "nullable": True}
    # a media type's ``examples`` (a map of Example Objects) is 3.0 too: kept
    assert response["content"]["application/json"] == {"schema": {"enum": [1]}, "examples": {"one": {"value": 1}}}
    assert out["components"]["schemas"]["Thing"] == {"type": "object", "example": {"a": 1}}


def test_the_route_serves_the_apps_document_as_3_0() -> None:
    app = FastAPI()
    app.include_router(router)
    app.openapi = lambda: DOC  # type: ignore[method-assign]
    with TestClient(app) as client:
        r = client.get("/openapi-3.0.json")
    assert r.status_code == 200
    assert r.json() == to_openapi_30(DOC)
