"""Schemathesis against every service's OpenAPI: no 5xx from fuzzed input.

One test per service (customer, sales, service-desk, billing, gateway), and per operation of
its OpenAPI one test item (``test_sales[POST /v1/deals]``). Each service gets a fresh,
migrated database of its own and its app built in-process with Kafka and background jobs
off; upstream URLs point at a closed port, so the gateway's 360/export sections and the
sales service's customer look-ups are "unavailable", which must not be a 5xx either.

Schemathesis calls the app over ASGI (it runs the app's lifespan) with an admin token on
every request, in three phases: the schema's examples, coverage (boundary values and, for
invalid data, every way each field can be wrong) and fuzzing (random valid and invalid
data, ``MAX_EXAMPLES`` per operation). The seed is fixed and generation derandomised, so a
run is the same on every machine; there is no deadline.

Check: no server error (the architecture's bar). Status-code and content-type conformance
are not on yet: the services' documents do not declare their problem+json error answers.
The gateway is fuzzed on its own routes (its document without the services' merged in): the
services' routes it forwards are fuzzed here on the services themselves. Every service runs
on SQLite and on PostgreSQL, which refuses input SQLite accepts (NUL in text, integers beyond
64 bits); as random data only sometimes holds a NUL, the last test sends one on purpose.

Why the schema is loaded from each app's ``openapi()`` at import rather than from a fixture:
``schemathesis.pytest.from_fixture`` (4.32) sets ``Function._nodeid``, which pytest 9.2 no
longer has. The document is the one the app serves at ``/openapi.json`` (for the gateway,
its own part, ``app.state.own_openapi``); requests still go to the in-process app.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from collections.abc import Callable
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings

from tessera_shared.testing.databases import DatabaseFactory
from tessera_shared.testing.plugin import bearer, migrations_of, running

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))
from service_apps import main_module, settings_class  # noqa: E402

# Nothing listens there: connections are refused at once.
UNREACHABLE = "http://127.0.0.1:9"
SEED = 20_261_123
MAX_EXAMPLES = 15
CHECKS = ["not_a_server_error", "status_code_conformance", "content_type_conformance"]

# (service, database backend): each pair is one test below.
TARGETS = [
    ("customer", "sqlite"),
    ("customer", "postgres"),
    ("sales", "sqlite"),
    ("service-desk", "sqlite"),
    ("billing", "sqlite"),
    ("gateway", "sqlite"),
    ("sales", "postgres"),
    ("service-desk", "postgres"),
    ("billing", "postgres"),
    ("gateway", "postgres"),
]

# The customer import takes NDJSON (its schema: a string); send the string as it is.
schemathesis.serializer.alias("application/x-ndjson", "text/plain")


def _settings_for(service: str, database_url: str) -> Any:
    settings_cls = settings_class(service)
    fields = settings_cls.model_fields
    extra: dict[str, Any] = {name: UNREACHABLE for name in
                             ("customer_url", "sales_url", "service_desk_url", "billing_url", "gateway_url")
                             if name in fields}
    if "rate_limit_per_minute" in fields:  # the gateway's per-token limit is not what is tested here
        extra["rate_limit_per_minute"] = 1_000_000
    return settings_cls(database_url=database_url, kafka_enabled=False, jobs_enabled=False, log_json=False,
                        run_migrations_on_start=False, **extra)


def build(service: str, database_url: str) -> FastAPI:
    return main_module(service).create_app(_settings_for(service, database_url))


def _document(service: str) -> dict[str, Any]:
    app = build(service, "sqlite+aiosqlite:///:memory:")
    document = getattr(app.state, "own_openapi", app.openapi)()
    return json.loads(json.dumps(document))  # what /openapi.json serves


_CONFIG = {
    "seed": SEED,
    "generation": {
        "mode": "all",  # valid and invalid data
        "max-examples": MAX_EXAMPLES,
        "deterministic": True,
        "database": "none",
        # The token is set on each call: a security parameter generated here would replace it.
        "with-security-parameters": False,
    },
    "phases": {"stateful": {"enabled": False}},
    "checks": {"enabled": False, **{name: {"enabled": True} for name in CHECKS}},
}


@pytest.fixture(scope="module")
async def apps(databases: DatabaseFactory) -> Callable[[tuple[str, str]], FastAPI]:
    """The app of a (service, backend) on a fresh database of its own, built on first use."""
    urls = {}
    for service, backend in TARGETS:
        main = main_module(service)
        urls[(service, backend)] = await databases.new(service, backend, migrations_of(main.__file__))
    built: dict[tuple[str, str], FastAPI] = {}

    def get(target: tuple[str, str]) -> FastAPI:
        if target not in built:
            built[target] = build(target[0], urls[target])
        return built[target]

    return get


def _forwarded(case: schemathesis.Case) -> bool:
    """A gateway request under /api/v1 that none of its own operations serves."""
    return case.path.startswith("/api/v1/") and case.method.upper() != case.operation.method.upper()


def _fuzz(target: tuple[str, str]) -> Callable[..., None]:
    service, _ = target
    schema = schemathesis.openapi.from_dict(_document(service), config=schemathesis.Config.from_dict(_CONFIG))

    @schema.parametrize()
    @settings(deadline=None, suppress_health_check=list(HealthCheck), print_blob=False)
    def test(case: schemathesis.Case, apps: Callable[[tuple[str, str]], FastAPI]) -> None:
        app = apps(target)
        headers = bearer(app, "fuzz-admin", "admin")
        response = case.call(app=app, headers=headers)
        if service == "gateway" and _forwarded(case) and response.status_code == 503:
            # A method the gateway's own route lacks goes on to the owning service, which is down here.
            assert response.json()["type"] == "urn:tessera:problem:upstream-unavailable"
            return
        case.validate_response(response, headers=headers)

    return test


test_customer = _fuzz(("customer", "sqlite"))
test_customer_postgres = _fuzz(("customer", "postgres"))
test_sales = _fuzz(("sales", "sqlite"))
test_service_desk = _fuzz(("service-desk", "sqlite"))
test_billing = _fuzz(("billing", "sqlite"))
test_gateway = _fuzz(("gateway", "sqlite"))
test_sales_postgres = _fuzz(("sales", "postgres"))
test_service_desk_postgres = _fuzz(("service-desk", "postgres"))
test_billing_postgres = _fuzz(("billing", "postgres"))
test_gateway_postgres = _fuzz(("gateway", "postgres"))


# Random generation only sometimes produces a NUL; PostgreSQL refuses it in every text column
# and filter, so each way in is also tried on purpose (on PostgreSQL, where it would be a 500).
NUL_CASES = [
    ("sales", "POST", "/v1/activities", {"json": {"kind": "call", "subject": "a\x00b",
                                                   "customer_id": "0190b0b0-0000-7000-8000-000000000000"}},
     "subject", "body"),
    ("sales", "GET", "/v1/deals?owner_id=a%00b", {}, "owner_id", "query"),
    ("customer", "POST", "/v1/segments", {"json": {"name": "\x00", "rules": {}}}, "name", "body"),
    ("customer", "POST", "/v1/customers/import",
     {"content": b'{"kind": "person", "name": "a\\u0000", "email": "a@example.com"}\n',
      "headers": {"Content-Type": "application/x-ndjson"}}, "line 1.name", "body"),
    ("gateway", "POST", "/auth/token", {"data": {"grant_type": "password", "username": "a\x00",
                                                 "password": "local"}}, "username", "body"),
]


@pytest.mark.parametrize(("service", "method", "path", "request_kwargs", "field", "location"), NUL_CASES,
                         ids=[f"{c[0]}-{c[1]} {c[2]}" for c in NUL_CASES])
async def test_nul_in_text_is_a_422_naming_the_field(
    databases: DatabaseFactory, service: str, method: str, path: str, request_kwargs: dict[str, Any],
    field: str, location: str,
) -> None:
    main = main_module(service)
    app = build(service, await databases.new(service, "postgres", migrations_of(main.__file__)))
    async with running(app) as client:
        headers = {**bearer(app, "fuzz-admin", "admin"), **request_kwargs.pop("headers", {})}
        r = await client.request(method, path, headers=headers, **request_kwargs)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert {"field": field, "location": location} in [
        {"field": e["field"], "location": e["location"]} for e in r.json()["errors"]], r.text
