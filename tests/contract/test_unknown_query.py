"""Unknown query parameters are a 422 naming them, on every route of every app (issue 23, item 3).

Each app is walked route by route: every method of every route (documented or not, the health,
docs and schema routes too) is called with ``?colour=red`` and must answer 422 naming
``colour`` in the query, never a 2xx (the parameter silently ignored) nor a 5xx. Routes that
forward their query string to another service (the gateway's proxy) are the exception; the
service that answers checks it. No database is needed: the check runs before the endpoint.
"""

from __future__ import annotations

import importlib
import re
import sys
import uuid
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import routing
from fastapi.routing import APIRoute

from tessera_shared.testing.plugin import bearer

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))
from service_apps import SERVICES, main_module

SETTINGS = {
    "customer": "CustomerSettings",
    "sales": "SalesSettings",
    "service-desk": "ServiceDeskSettings",
    "billing": "BillingSettings",
    "notifications": "NotificationsSettings",
    "gateway": "GatewaySettings",
}


def build_app(service: str) -> Any:
    """The service's app on an in-memory database it never opens (the check runs before the endpoint)."""
    module = importlib.import_module(f"tessera_{service.replace('-', '_')}.settings")
    settings = getattr(module, SETTINGS[service])(
        database_url="sqlite+aiosqlite:///:memory:", kafka_enabled=False, jobs_enabled=False, log_json=False
    )
    return main_module(service).create_app(settings)


PARAM = re.compile(r"\{([^}:]+)(?::[^}]+)?\}")


def _value(route: Any, name: str) -> str:
    for field in route.dependant.path_params:
        if field.alias == name:
            kind = field.field_info.annotation
            if kind is int:
                return "1"
            if kind is str:
                return "x"
    return str(uuid.uuid4())


def _fill(route: Any, match: re.Match[str]) -> str:
    return _value(route, match.group(1))


def _calls(app: Any) -> list[tuple[str, str, bool]]:
    """(method, path, forwards its query) of every API route of ``app``."""
    calls: list[tuple[str, str, bool]] = []
    for context in routing.iter_route_contexts(app.routes):
        if not isinstance(context.original_route, APIRoute):
            continue
        path = PARAM.sub(partial(_fill, context), context.path_format or "")
        forwards = getattr(context.endpoint, "__tessera_forwards_query__", False)
        calls.extend((method, path, forwards) for method in sorted(context.methods or ()))
    return calls


@pytest.mark.parametrize("service", SERVICES)
async def test_every_route_refuses_an_unknown_query_parameter(service: str) -> None:
    app = build_app(service)
    headers = bearer(app, "admin", "admin")
    calls = _calls(app)
    assert len(calls) > 10, calls
    wrong = []
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        for method, path, forwards in calls:
            if forwards:
                continue
            r = await client.request(method, path, params={"colour": "red", "limit": "5"}, headers=headers)
            errors = r.json().get("errors", []) if r.headers.get("content-type", "").endswith("json") else []
            if r.status_code != 422 or {"field": "colour", "location": "query"} not in [
                {"field": e.get("field"), "location": e.get("location")} for e in errors
            ]:
                wrong.append((method, path, r.status_code, r.text[:200]))
    assert not wrong, wrong


@pytest.mark.parametrize(
    ("service", "path"),
    [
        ("customer", "/v1/customers"),
        ("customer", "/v1/segments"),
        ("sales", "/v1/deals"),
        ("sales", "/v1/reports/forecast"),
        ("service-desk", "/v1/tickets"),
        ("billing", "/v1/invoices"),
        ("notifications", "/v1/notifications"),
        ("gateway", "/healthz"),
    ],
)
async def test_sample_endpoints_name_the_unknown_parameter_and_keep_the_known(service: str, path: str) -> None:
    app = build_app(service)
    headers = bearer(app, "admin", "admin")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        r = await client.get(f"{path}?colour=red&Colour=x", headers=headers)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["type"] == "urn:tessera:problem:validation-error"
    assert [(e["field"], e["location"]) for e in body["errors"]] == [("colour", "query"), ("Colour", "query")]
    assert body["detail"] == "invalid input: colour, Colour"


async def test_the_reports_former_range_names_stay_accepted() -> None:
    app = build_app("sales")
    headers = bearer(app, "admin", "admin")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        renamed = await client.get("/v1/reports/funnel?from=2026-01-01&to=2026-02-01&colour=1", headers=headers)
    # Only the unknown one is named: from/to were read as since/until.
    assert renamed.status_code == 422
    assert [e["field"] for e in renamed.json()["errors"]] == ["colour"]
