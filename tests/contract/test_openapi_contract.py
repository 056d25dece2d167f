"""The OpenAPI documents as the contract generated clients use (issue 17, item 11).

Read from the documents the apps serve (each service's, and the gateway's merged one), and
checked against the code where the document claims something about behaviour: every undeclared
method is a 405 naming exactly the declared ones, and every date in a query refuses a number.
"""

from __future__ import annotations

import json
import re
import sys
import uuid
from pathlib import Path
from typing import Annotated, Any

import pytest

from tessera_gateway.views.openapi import merge
from tessera_shared.http import openapi_once
from tessera_shared.http.idempotency import _idempotency
from tessera_shared.testing.databases import DatabaseFactory
from tessera_shared.testing.plugin import bearer, migrations_of, running

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))
from service_apps import build_app, main_module

SERVICES = ["customer", "sales", "service-desk", "billing", "notifications"]
MAX_OPERATION_ID = 32
CAMEL = re.compile(r"[a-z][a-zA-Z0-9]*")
HTTP_METHODS = ("get", "put", "post", "delete", "patch")


def _plain(document: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(document))


@pytest.fixture(scope="module")
def apps() -> dict[str, Any]:
    return {s: build_app(s) for s in [*SERVICES, "gateway"]}


@pytest.fixture(scope="module")
def documents(apps: dict[str, Any]) -> dict[str, dict[str, Any]]:
    docs = {s: _plain(apps[s].openapi()) for s in SERVICES}
    docs["gateway"] = _plain(merge(apps["gateway"].state.own_openapi(), docs))
    return docs


def _operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, op)
        for path, item in doc["paths"].items()
        for method, op in item.items()
        if method in HTTP_METHODS
    ]


def _route_of(app: Any, path: str, method: str) -> Any:
    from fastapi import routing
    from fastapi.routing import APIRoute

    for context in routing.iter_route_contexts(app.routes):
        if (
            isinstance(context.original_route, APIRoute)
            and context.path_format == path
            and method.upper() in (context.methods or ())
        ):
            return context
    raise LookupError(f"{method} {path}")


def _calls(dependant: Any) -> list[Any]:
    return [c for d in dependant.dependencies for c in [d.call, *_calls(d)]]


def test_operation_ids_are_short_camel_case_and_unique_in_the_merged_document(
    documents: dict[str, dict[str, Any]],
) -> None:
    ids = [op["operationId"] for _, _, op in _operations(documents["gateway"])]
    assert len(ids) > 100
    assert sorted(i for i in ids if not CAMEL.fullmatch(i)) == []
    assert sorted(i for i in ids if len(i) > MAX_OPERATION_ID) == []
    assert sorted({i for i in ids if ids.count(i) > 1}) == []
    some = {
        ("post", "/api/v1/deals/{deal_id}/win"): "winDeal",
        ("get", "/api/v1/customers"): "listCustomers",
        ("get", "/api/v1/customers/{customer_id}"): "getCustomer",
    }
    for (method, path), expected in some.items():
        assert documents["gateway"]["paths"][path][method]["operationId"] == expected


@pytest.mark.parametrize("service", SERVICES)
def test_writes_document_idempotency_and_if_match(
    service: str, apps: dict[str, Any], documents: dict[str, dict[str, Any]]
) -> None:
    doc = documents[service]
    failures = []
    for method, path, op in _operations(doc):
        route = _route_of(apps[service], path, method)
        headers = {p["name"] for p in op.get("parameters", []) if p["in"] == "header"}
        success = [r for code, r in op["responses"].items() if code.startswith("2")]
        if _idempotency in _calls(route.dependant):
            if "Idempotency-Key" not in headers:
                failures.append(f"{method} {path}: honours Idempotency-Key, does not document it")
            if not all("Idempotent-Replayed" in r.get("headers", {}) for r in success):
                failures.append(f"{method} {path}: no Idempotent-Replayed response header")
        if "If-Match" in headers and not {"412"} <= set(op["responses"]):
            failures.append(f"{method} {path}: If-Match without 412")
    # Every write that checks If-Match documents it (the PATCHes of versioned entities do).
    for path in (
        "/v1/customers/{customer_id}",
        "/v1/deals/{deal_id}",
        "/v1/tickets/{ticket_id}",
        "/v1/credit/{customer_id}",
        "/v1/segments/{segment_id}",
    ):
        op = doc["paths"].get(path, {}).get("patch")
        if op is not None:
            assert "If-Match" in {p["name"] for p in op["parameters"]}, path
            assert "ETag" in op["responses"]["200"]["headers"], path
    if service == "customer":
        assert "Location" in doc["paths"]["/v1/customers"]["post"]["responses"]["201"]["headers"]
    assert failures == []


def test_every_operation_lists_its_client_errors(apps: dict[str, Any], documents: dict[str, dict[str, Any]]) -> None:
    doc = documents["gateway"]
    own = set(apps["gateway"].state.own_openapi()["paths"])
    failures = []
    for method, path, op in _operations(doc):
        codes = set(op["responses"])
        if "4XX" in codes:
            failures.append(f"{method} {path}: a 4XX range")
        public = "x-tessera-public" in op or not op.get("security")
        expected = set() if public else {"401", "403"}
        if "{" in path:
            expected.add("404")
        if "requestBody" in op:
            expected |= {"413", "422"}
        if path.startswith("/api/v1/") and path not in own and not public:
            expected |= {"429", "502", "503", "504"}  # forwarded: the gateway's own answers
        if missing := expected - codes:
            failures.append(f"{method} {path}: missing {sorted(missing)}")
        for code, response in op["responses"].items():
            if code[0] in "45":
                content = dict(response["content"])
                page = content.pop("text/html", None)  # a browser's page (tessera_shared.http.pages)
                assert content == {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}, (
                    path,
                    code,
                )
                assert page in (None, {"schema": {"type": "string"}}), (path, code)
    assert failures == []
    win = doc["paths"]["/api/v1/deals/{deal_id}/win"]["post"]["responses"]["409"]["description"]
    assert "`credit-hold`" in win and "`invalid-transition`" in win
    assert "Retry-After" in doc["paths"]["/api/v1/deals"]["get"]["responses"]["429"]["headers"]


def test_no_unused_schemas(documents: dict[str, dict[str, Any]]) -> None:
    for name, doc in documents.items():
        text = json.dumps({k: v for k, v in doc.items() if k != "components"})
        schemas = doc["components"]["schemas"]
        used = set(re.findall(r'"#/components/schemas/([^"]+)"', text))
        pending = list(used)
        while pending:
            for ref in re.findall(r'"#/components/schemas/([^"]+)"', json.dumps(schemas.get(pending.pop(), {}))):
                if ref not in used:
                    used.add(ref)
                    pending.append(ref)
        assert sorted(set(schemas) - used) == [], name
        assert not any("ValidationError" in s for s in schemas), name


def test_the_360_view_and_the_import_have_bodies_generators_can_use(documents: dict[str, dict[str, Any]]) -> None:
    doc = documents["gateway"]
    ok = doc["paths"]["/api/v1/customers/{customer_id}/360"]["get"]["responses"]["200"]
    schema = ok["content"]["application/json"]["schema"]
    assert schema == {"$ref": "#/components/schemas/Customer360"}
    assert {"profile", "sales", "service", "billing", "sections"} <= set(
        doc["components"]["schemas"]["Customer360"]["properties"]
    )
    assert "ETag" in ok["headers"]
    assert "If-None-Match" in {
        p["name"] for p in doc["paths"]["/api/v1/customers/{customer_id}/360"]["get"]["parameters"]
    }
    # One body type per operation (openapi-python-client 0.29.1 writes a broken function for two).
    bodies = {
        path: ops["post"]["requestBody"]["content"]
        for path, ops in doc["paths"].items()
        if path.startswith("/api/v1/customers/import")
    }
    assert {path: list(content) for path, content in bodies.items()} == {
        "/api/v1/customers/import": ["text/csv"],
        "/api/v1/customers/import/csv": ["text/csv"],
        "/api/v1/customers/import/ndjson": ["application/x-ndjson"],
    }
    assert all(c["schema"] == {"type": "string", "format": "binary"} for b in bodies.values() for c in b.values())
    assert doc["paths"]["/api/v1/customers/import"]["post"]["deprecated"] is True
    for path, ops in doc["paths"].items():
        for op in ops.values():
            assert len(op.get("requestBody", {}).get("content", {})) <= 1, path
    example = doc["components"]["schemas"]["customer.CustomerCreate"]["examples"][0]
    assert "external_id" not in example  # "Try it out" twice must not be a 409


async def _allow_and_status(client: Any, method: str, path: str, headers: dict[str, str]) -> tuple[int, str]:
    r = await client.request(method, path, headers=headers)
    return r.status_code, r.headers.get("allow", "")


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", str(uuid.uuid4()), path)


@pytest.mark.parametrize("service", [*SERVICES, "gateway"])
async def test_undeclared_methods_are_405_with_exactly_the_declared_ones(
    databases: DatabaseFactory, service: str, documents: dict[str, dict[str, Any]]
) -> None:
    """Every path of the document, every method it does not declare: 405, Allow = declared."""
    url = await databases.new(service, "sqlite", migrations_of(main_module(service).__file__))
    gateway = {"rate_limit_per_minute": 1_000_000, "view_cache_enabled": False} if service == "gateway" else {}
    app = build_app(service, url, **gateway)
    doc = documents[service]
    if service == "gateway":
        # As if the services had answered the gateway's first refresh of the merged document.
        app.state.merged_openapi._fetched.update({s: documents[s] for s in SERVICES})
        app.state.merged_openapi._merged = None
    failures = []
    async with running(app) as client:
        headers = bearer(app, "allow-admin", "admin")
        for path, item in doc["paths"].items():
            declared = {m.upper() for m in item if m in HTTP_METHODS}
            expected = ", ".join(m for m in ("GET", "POST", "PUT", "PATCH", "DELETE") if m in declared)
            for method in ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "TRACE"):
                if method in declared:
                    continue
                status, allow = await _allow_and_status(client, method, _concrete(path), headers)
                if (status, allow) != (405, expected):
                    failures.append(f"{method} {path}: {status} Allow: {allow!r}, expected {expected!r}")
    assert failures == []


# Notifications takes no date in a query.
@pytest.mark.parametrize("service", [s for s in SERVICES if s != "notifications"])
async def test_every_date_in_a_query_is_strict_iso_8601(
    databases: DatabaseFactory, service: str, documents: dict[str, dict[str, Any]]
) -> None:
    """Every query parameter typed date or date-time, given ``0``: a 422 naming it."""
    url = await databases.new(service, "sqlite", migrations_of(main_module(service).__file__))
    app = build_app(service, url)
    failures, seen = [], 0
    async with running(app) as client:
        headers = bearer(app, "date-admin", "admin")
        for method, path, op in _operations(documents[service]):
            for param in op.get("parameters", []):
                if param["in"] != "query" or "date" not in json.dumps(param.get("schema", {})):
                    continue
                seen += 1
                r = await client.request(method, _concrete(path), params={param["name"]: "0"}, headers=headers)
                fields = [e.get("field") for e in r.json().get("errors", [])] if r.status_code == 422 else []
                if param["name"] not in fields:
                    failures.append(f"{method} {path}?{param['name']}=0: {r.status_code} {r.text[:120]}")
    assert seen > 0
    assert failures == []


def _body_models(app: Any) -> list[Any]:
    import inspect
    import typing

    from fastapi import routing
    from fastapi.routing import APIRoute
    from pydantic import BaseModel

    found: list[Any] = []

    def visit(annotation: Any) -> None:
        for candidate in (annotation, *typing.get_args(annotation)):
            if inspect.isclass(candidate) and issubclass(candidate, BaseModel):
                if candidate not in found:
                    found.append(candidate)
                    for field in candidate.model_fields.values():
                        visit(field.annotation)
            elif typing.get_args(candidate) and candidate is not annotation:
                visit(candidate)

    for context in routing.iter_route_contexts(app.routes):
        if isinstance(context.original_route, APIRoute) and context.body_field is not None:
            visit(context.body_field.field_info.annotation)
    return found


@pytest.mark.parametrize("service", [*SERVICES, "gateway"])
def test_json_bodies_take_booleans_and_dates_only_as_documented(service: str, apps: dict[str, Any]) -> None:
    """Pydantic's lax mode read ``0`` as ``false``, a number as a Unix time and ``false`` or
    ``"1"`` as an integer; the document says boolean, ISO 8601 string, integer. Every request-body
    field of those types refuses what its type does not allow (money: the decimals item)."""
    import datetime
    import typing

    from pydantic import TypeAdapter, ValidationError

    def leaves(annotation: Any) -> set[Any]:
        if typing.get_origin(annotation) is Annotated:
            return leaves(typing.get_args(annotation)[0])
        args = typing.get_args(annotation)
        return set().union(*(leaves(a) for a in args)) if args else {annotation}

    failures = []
    for model in _body_models(apps[service]):
        for name, field in model.model_fields.items():
            types = leaves(field.annotation)
            kinds = (
                {"bool" for t in types if t is bool}
                | {"int" for t in types if t is int}
                | {"float" for t in types if t is float}
                | {"date" for t in types if t in (datetime.date, datetime.datetime)}
            )
            probes = [(0, "bool"), (0, "date"), (True, "int"), ("1", "int"), (True, "float"), ("1", "float")]
            for probe, what in probes:
                if what not in kinds:
                    continue
                annotation: Any = Annotated[(field.annotation, *field.metadata)] if field.metadata else field.annotation
                try:
                    TypeAdapter(annotation).validate_python(probe)
                except ValidationError:
                    continue
                failures.append(f"{model.__module__}.{model.__name__}.{name} accepts {probe!r} ({what})")

    assert failures == [], "\n".join(failures)


@pytest.mark.parametrize("service", [*SERVICES, "gateway"])
def test_a_second_app_of_a_kind_reuses_the_first_ones_document(service: str) -> None:
    """Nothing in an app's routes is made anew per app (a dependency defined inside the factory
    was): otherwise each app a test process builds pays 0.2-0.7 s of CPU for its document."""

    def own_document(app: Any) -> dict[str, Any]:
        return app.state.own_openapi() if service == "gateway" else app.openapi()

    own_document(build_app(service))
    built = len(openapi_once._BUILT)
    assert own_document(build_app(service)) == own_document(build_app(service))
    assert len(openapi_once._BUILT) == built
