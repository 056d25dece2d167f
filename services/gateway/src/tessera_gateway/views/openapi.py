"""One OpenAPI document at the gateway: its own routes plus every service's, as served under
``/api/v1``, so a frontend team generates one client.

Each service's schemas are renamed ``<service>.<Name>`` (two services may both have an
``ItemOut``) and every ``$ref`` follows, except ``Problem``, which all share. Operation ids
stay as the services name them (short camelCase, unique across services: a test checks it;
one that collides with an operation already merged gets its service as a prefix). Forwarded
operations also document what the gateway itself may answer (429, 502, 503, 504). The merged
document is rebuilt in the background from the services' live ``/openapi.json``; until a
service answers, its paths are missing and ``x-tessera-missing`` names it.

``/openapi.json`` is OpenAPI 3.1.0, as FastAPI writes it. ``/openapi-3.0.json`` serves the same
document rendered as OpenAPI 3.0.3 (``to_openapi_30``) for tools that read 3.0 only or treat
3.1 as beta (OpenAPI Generator warns "OpenAPI 3.1 support is still in beta" on any 3.1
document). No converter on PyPI fits: openapi-downgrade (1.0.1) fetches the 3.0 meta-schema
from the network on every call, writes ``warnings.txt`` to the working directory, drops ``not``
(valid in 3.0) and rewrites keywords wherever they appear, property names included.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import re
from collections.abc import Callable, Mapping
from typing import Any

import httpx2
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from tessera_gateway.proxy import expand
from tessera_gateway.proxy.routes import owner_of
from tessera_shared.http.openapi import drop_unused_schemas, problem_response

log = logging.getLogger(__name__)
REF = "#/components/schemas/"


SHARED_SCHEMAS = {"Problem"}
# What the gateway answers itself on a forwarded call (proxy/router.py).
GATEWAY_ANSWERS = {
    401: (),
    429: ("rate-limited",),
    502: ("upstream-error",),
    503: ("upstream-unavailable",),
    504: ("upstream-timeout",),
}


def _rename_refs(node: Any, prefix: str) -> Any:
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str) and value.startswith(REF):
                name = value.removeprefix(REF)
                out[key] = REF + (name if name in SHARED_SCHEMAS else prefix + name)
            else:
                out[key] = _rename_refs(value, prefix)
        return out
    if isinstance(node, list):
        return [_rename_refs(v, prefix) for v in node]
    return node


def merge(own: dict[str, Any], services: Mapping[str, dict[str, Any] | None]) -> dict[str, Any]:
    """The gateway's document with each service's routable operations mounted under /api/v1."""
    doc = copy.deepcopy(own)
    paths = doc.setdefault("paths", {})
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    missing = []
    operation_ids = {
        op.get("operationId") for operations in paths.values() for op in operations.values() if isinstance(op, dict)
    }
    for service, sdoc in sorted(services.items()):
        if sdoc is None:
            missing.append(service)
            continue
        prefix = f"{service}."
        for name, schema in sdoc.get("components", {}).get("schemas", {}).items():
            if name in SHARED_SCHEMAS:
                schemas.setdefault(name, schema)
            else:
                schemas[prefix + name] = _rename_refs(schema, prefix)
        for path, operations in sdoc.get("paths", {}).items():
            if not path.startswith("/v1/") or owner_of(path.removeprefix("/v1/")) != service:
                continue  # probes, event schemas and internal routes are not part of the public API
            public_path = "/api" + path
            if public_path in paths:
                continue  # the gateway serves this one itself (e.g. the composed export)
            renamed = _rename_refs(operations, prefix)
            for method, op in renamed.items():
                if not isinstance(op, dict) or method == "parameters":
                    continue
                if op.get("operationId") in operation_ids:
                    op["operationId"] = f"{service}_{op['operationId']}"
                operation_ids.add(op.get("operationId"))
                responses = op.setdefault("responses", {})
                for status, slugs in GATEWAY_ANSWERS.items():
                    if str(status) in responses and status not in (503,):
                        continue
                    known = [
                        s for s in re.findall(r"`([a-z0-9-]+)`", responses.get(str(status), {}).get("description", ""))
                    ]
                    responses[str(status)] = problem_response(status, [*known, *slugs])
                op["responses"] = dict(sorted(responses.items()))
            paths[public_path] = renamed
        for name, item in sdoc.get("webhooks", {}).items():  # what a service sends (partner webhooks)
            doc.setdefault("webhooks", {})[name] = _rename_refs(item, prefix)
    expand.document(paths)
    if missing:
        doc["x-tessera-missing"] = missing
    else:
        doc.pop("x-tessera-missing", None)
    return _unique_titles(drop_unused_schemas(doc))


def _unique_titles(doc: dict[str, Any]) -> dict[str, Any]:
    """Give every schema a title of its own. Generators name a model after its schema's title
    (openapi-python-client refuses two models of one name), and two services may each have a
    ``BatchRead``: the first met (the gateway's own, then the services in name order) keeps its
    title, a later one is titled after its service (``SalesBatchRead``), so adding a service's
    schema never renames one a client already uses."""
    seen: set[str] = set()
    for key, schema in doc.get("components", {}).get("schemas", {}).items():
        if not isinstance(schema, dict):
            continue
        title = schema.get("title") or key.rsplit(".", 1)[-1]
        if title in seen:
            service = key.split(".", 1)[0] if "." in key else "gateway"
            title = "".join(part.capitalize() for part in service.split("-")) + title
            schema["title"] = title
        seen.add(title)
    return doc


class MergedOpenAPI:
    """Keeps the merged document fresh; ``document()`` is what /openapi.json serves."""

    def __init__(self, own: Callable[[], dict[str, Any]], upstreams: Mapping[str, str]) -> None:
        self._own = own
        self._upstreams = upstreams
        self._fetched: dict[str, dict[str, Any] | None] = dict.fromkeys(upstreams)
        self._merged: dict[str, Any] | None = None

    def document(self) -> dict[str, Any]:
        if self._merged is None:
            self._merged = merge(self._own(), self._fetched)
        return self._merged

    async def refresh(self, clients: Mapping[str, httpx2.AsyncClient]) -> bool:
        async def one(service: str, url: str) -> dict[str, Any] | None:
            try:
                r = await clients[service].get(f"{url}/openapi.json", timeout=5.0)
                return r.json() if r.status_code == 200 else None
            except (httpx2.HTTPError, ValueError):
                return None

        docs = await asyncio.gather(*(one(s, u) for s, u in self._upstreams.items()))
        for service, fetched in zip(self._upstreams, docs, strict=True):
            if fetched is not None:
                self._fetched[service] = fetched
        self._merged = merge(self._own(), self._fetched)
        return all(d is not None for d in self._fetched.values())

    async def keep_fresh(self, clients: Mapping[str, httpx2.AsyncClient]) -> None:
        while True:
            try:
                complete = await self.refresh(clients)
            except Exception:  # never let the docs take the gateway down
                log.warning("could not refresh the merged OpenAPI", exc_info=True)
                complete = False
            await asyncio.sleep(300 if complete else 5)


# -- the OpenAPI 3.0.3 rendition ----------------------------------------------------------------

OPENAPI_30 = "3.0.3"
# Keywords of a Schema Object (JSON Schema 2020-12) that OpenAPI 3.0 does not have and that have
# no 3.0 equivalent: kept as ``x-jsonschema-<keyword>`` extensions (3.0 tools ignore them).
_SCHEMA_ONLY_31 = (
    "propertyNames",
    "patternProperties",
    "prefixItems",
    "contains",
    "minContains",
    "maxContains",
    "dependentRequired",
    "dependentSchemas",
    "unevaluatedProperties",
    "unevaluatedItems",
    "if",
    "then",
    "else",
    "$defs",
    "$id",
    "$anchor",
    "$comment",
    "$dynamicRef",
    "$dynamicAnchor",
    "$schema",
)
# Sub-schemas: one schema, a list of schemas, a map of schemas.
_ONE = ("items", "not", "additionalProperties")
_LIST = ("allOf", "anyOf", "oneOf")
_MAP = ("properties",)
_ANNOTATIONS = {"nullable", "title", "description", "default", "example", "deprecated", "readOnly", "writeOnly"}


def _is_null(schema: Any) -> bool:
    """``{type: "null"}`` as converted: ``{nullable: true}`` and nothing else to say."""
    return (
        isinstance(schema, dict)
        and schema.get("nullable") is True
        and not (set(schema) - {"nullable", "title", "description"})
    )


def schema_to_30(schema: Any) -> Any:
    """One JSON Schema 2020-12 Schema Object as an OpenAPI 3.0 one (a new object):

    - ``type: [X, "null"]`` and ``anyOf``/``oneOf`` with a ``{type: "null"}`` branch -> ``nullable:
      true`` (one branch left: merged into the schema, or ``allOf: [$ref]`` for a reference);
    - ``type: [X, Y]`` -> ``anyOf`` of the types; ``type: "null"`` alone -> ``nullable: true``;
    - ``const`` -> a one-value ``enum``; ``examples: [...]`` -> ``example`` (the first);
    - a numeric ``exclusiveMinimum``/``exclusiveMaximum`` -> ``minimum``/``maximum`` with the
      boolean form; ``contentEncoding: base64`` -> ``format: byte``, ``contentMediaType`` ->
      ``format: binary``;
    - ``$ref`` with sibling keywords -> ``allOf: [$ref]`` beside them (3.0 ignores siblings);
    - keywords 3.0 lacks (``propertyNames``, ``prefixItems``, ...) -> ``x-jsonschema-<keyword>``.
    """
    if isinstance(schema, bool):  # true / false schemas
        return {} if schema else {"not": {}}
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key in _ONE and isinstance(value, dict):
            out[key] = schema_to_30(value)
        elif key in _LIST and isinstance(value, list):
            out[key] = [schema_to_30(v) for v in value]
        elif key in _MAP and isinstance(value, dict):
            out[key] = {name: schema_to_30(v) for name, v in value.items()}
        elif key in _SCHEMA_ONLY_31:
            out[f"x-jsonschema-{key.lstrip('$')}"] = value
        else:
            out[key] = value
    if "const" in out:
        out["enum"] = [out.pop("const")]
    if "examples" in out:
        examples = out.pop("examples")
        if isinstance(examples, list) and examples and "example" not in out:
            out["example"] = examples[0]
    for exclusive, bound in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        value = out.get(exclusive)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            out[bound] = value
            out[exclusive] = True
    if "contentEncoding" in out or "contentMediaType" in out:
        encoding = out.pop("contentEncoding", None)
        out.pop("contentMediaType", None)
        out.setdefault("format", "byte" if encoding == "base64" else "binary")
    types = out.get("type")
    if isinstance(types, list):
        if "null" in types:
            out["nullable"] = True
        rest = [t for t in types if t != "null"]
        if len(rest) == 1:
            out["type"] = rest[0]
        else:
            del out["type"]
            if rest:
                out["anyOf"] = [{"type": t} for t in rest]
    elif types == "null":
        del out["type"]
        out["nullable"] = True
    for combinator in ("anyOf", "oneOf"):
        branches = out.get(combinator)
        if not isinstance(branches, list) or not any(_is_null(b) for b in branches):
            continue
        rest = [b for b in branches if not _is_null(b)]
        out["nullable"] = True
        del out[combinator]
        if len(rest) == 1 and "$ref" not in rest[0] and not (set(rest[0]) & set(out) - _ANNOTATIONS):
            # e.g. anyOf [{type: string, maxLength: 5}, {type: null}]; the outer title wins
            out.update({k: v for k, v in rest[0].items() if k not in out})
        elif len(rest) == 1 and "$ref" in rest[0] and len(rest[0]) == 1:
            out.setdefault("allOf", []).append(rest[0])
        elif rest:
            out[combinator] = rest
    if "$ref" in out and len(out) > 1:
        ref = out.pop("$ref")
        out.setdefault("allOf", []).insert(0, {"$ref": ref})
    return out


def _content_to_30(content: Any) -> Any:
    if not isinstance(content, dict):
        return content
    return {
        media: ({**m, "schema": schema_to_30(m["schema"])} if isinstance(m, dict) and "schema" in m else m)
        for media, m in content.items()
    }


def _parameter_to_30(parameter: Any) -> Any:
    """A Parameter or Header Object: its schema (or content)."""
    if not isinstance(parameter, dict) or "$ref" in parameter:
        return parameter
    out = dict(parameter)
    if "schema" in out:
        out["schema"] = schema_to_30(out["schema"])
    if "content" in out:
        out["content"] = _content_to_30(out["content"])
    return out


def _response_to_30(response: Any) -> Any:
    if not isinstance(response, dict) or "$ref" in response:
        return response
    out = dict(response)
    if "content" in out:
        out["content"] = _content_to_30(out["content"])
    if isinstance(out.get("headers"), dict):
        out["headers"] = {name: _parameter_to_30(h) for name, h in out["headers"].items()}
    return out


def _request_body_to_30(body: Any) -> Any:
    if not isinstance(body, dict) or "$ref" in body:
        return body
    return {**body, "content": _content_to_30(body.get("content", {}))}


_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def _path_item_to_30(item: dict[str, Any]) -> dict[str, Any]:
    out = dict(item)
    if "parameters" in out:
        out["parameters"] = [_parameter_to_30(p) for p in out["parameters"]]
    for method in _METHODS:
        op = out.get(method)
        if not isinstance(op, dict):
            continue
        op = dict(op)
        if "parameters" in op:
            op["parameters"] = [_parameter_to_30(p) for p in op["parameters"]]
        if "requestBody" in op:
            op["requestBody"] = _request_body_to_30(op["requestBody"])
        if isinstance(op.get("responses"), dict):
            op["responses"] = {code: _response_to_30(r) for code, r in op["responses"].items()}
        if isinstance(op.get("callbacks"), dict):
            op["callbacks"] = {
                name: {expr: _path_item_to_30(i) for expr, i in cb.items()}
                for name, cb in op["callbacks"].items()
                if isinstance(cb, dict)
            }
        out[method] = op
    return out


def to_openapi_30(doc: dict[str, Any]) -> dict[str, Any]:
    """The OpenAPI 3.1 document ``doc`` as an OpenAPI 3.0.3 document (a new object; ``doc`` is
    not changed). Schemas are converted where the document has them (components, parameters,
    headers, bodies, responses): a property *named* ``const`` or ``type`` is left alone.
    3.1-only document members are dropped (``jsonSchemaDialect``, ``info.summary``, the license's
    SPDX ``identifier``, ``components.pathItems``) or kept as extensions (``webhooks`` ->
    ``x-webhooks``)."""
    out = {k: v for k, v in doc.items() if k not in ("jsonSchemaDialect", "webhooks")}
    out["openapi"] = OPENAPI_30
    if "webhooks" in doc:
        out["x-webhooks"] = doc["webhooks"]
    if isinstance(doc.get("info"), dict):
        info = {k: v for k, v in doc["info"].items() if k != "summary"}
        if isinstance(info.get("license"), dict):
            info["license"] = {k: v for k, v in info["license"].items() if k != "identifier"}
        out["info"] = info
    out["paths"] = {path: _path_item_to_30(item) for path, item in doc.get("paths", {}).items()}
    components = {k: v for k, v in doc.get("components", {}).items() if k != "pathItems"}
    converters: dict[str, Callable[[Any], Any]] = {
        "schemas": schema_to_30,
        "parameters": _parameter_to_30,
        "headers": _parameter_to_30,
        "responses": _response_to_30,
        "requestBodies": _request_body_to_30,
    }
    for kind, convert in converters.items():
        if isinstance(components.get(kind), dict):
            components[kind] = {name: convert(value) for name, value in components[kind].items()}
    if components or "components" in doc:
        out["components"] = components
    return out


router = APIRouter()
_rendered: dict[int, tuple[dict[str, Any], dict[str, Any]]] = {}


@router.get("/openapi-3.0.json", include_in_schema=False)
def openapi_30(request: Request) -> JSONResponse:
    """The merged document as OpenAPI 3.0.3 (for OpenAPI Generator and other 3.0 tools)."""
    doc = request.app.openapi()
    cached = _rendered.get(id(request.app))
    if cached is None or cached[0] is not doc:  # the merged document is rebuilt on refresh
        cached = _rendered[id(request.app)] = (doc, to_openapi_30(doc))
    return JSONResponse(cached[1])
