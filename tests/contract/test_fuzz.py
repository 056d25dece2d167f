"""NUL characters on purpose, and every fuzz target has its file (the fuzzing itself:
tests/contract/fuzzing.py and test_fuzz_<target>.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tessera_shared.testing.databases import DatabaseFactory
from tessera_shared.testing.plugin import bearer, migrations_of, running

from .fuzzing import TARGETS, build, main_module


def test_every_target_is_fuzzed_in_a_file_of_its_own() -> None:
    here = Path(__file__).parent
    for service, backend in TARGETS:
        module = here / f"test_fuzz_{service.replace('-', '_')}.py"
        assert module.exists(), module
        assert f'_fuzz(("{service}", "{backend}"))' in module.read_text()


# Random generation only sometimes produces a NUL; PostgreSQL refuses it in every text column
# and filter, so each way in is also tried on purpose (on PostgreSQL, where it would be a 500).
NUL_CASES = [
    (
        "sales",
        "POST",
        "/v1/activities",
        {"json": {"kind": "call", "subject": "a\x00b", "customer_id": "0190b0b0-0000-7000-8000-000000000000"}},
        "subject",
        "body",
    ),
    ("sales", "GET", "/v1/deals?owner_id=a%00b", {}, "owner_id", "query"),
    ("customer", "POST", "/v1/segments", {"json": {"name": "\x00", "rules": {}}}, "name", "body"),
    (
        "customer",
        "POST",
        "/v1/customers/import",
        {
            "content": b'{"kind": "person", "name": "a\\u0000", "email": "a@example.com"}\n',
            "headers": {"Content-Type": "application/x-ndjson"},
        },
        "line 1.name",
        "body",
    ),
    (
        "gateway",
        "POST",
        "/auth/token",
        {"data": {"grant_type": "password", "username": "a\x00", "password": "local"}},
        "username",
        "body",
    ),
]


@pytest.mark.parametrize(
    ("service", "method", "path", "request_kwargs", "field", "location"),
    NUL_CASES,
    ids=[f"{c[0]}-{c[1]} {c[2]}" for c in NUL_CASES],
)
async def test_nul_in_text_is_a_422_naming_the_field(
    databases: DatabaseFactory,
    service: str,
    method: str,
    path: str,
    request_kwargs: dict[str, Any],
    field: str,
    location: str,
) -> None:
    main = main_module(service)
    app = build(service, await databases.new(service, "postgres", migrations_of(main.__file__)))
    async with running(app) as client:
        headers = {**bearer(app, "fuzz-admin", "admin"), **request_kwargs.pop("headers", {})}
        r = await client.request(method, path, headers=headers, **request_kwargs)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert {"field": field, "location": location} in [
        {"field": e["field"], "location": e["location"]} for e in r.json()["errors"]
    ], r.text
