"""Issue 23 items 2 and 3 as a client sees them through the gateway (real HTTP, every process):
an OR of two filter groups finds customers, ``?colour=red`` is a 422 naming it (checked by the
owning service behind the proxy), and ``?fields=`` passes through to the service."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))
from inprocess_stack import InprocessStack


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    with InprocessStack(tmp_path_factory.mktemp("search-stack")) as stack:
        url = stack.urls["gateway"]
        form = {"grant_type": "password", "username": "manager", "password": "local"}
        token = httpx.post(f"{url}/auth/token", data=form, timeout=10).json()["access_token"]
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=10) as client:
            yield client


def test_a_client_finds_customers_with_an_or_of_two_groups(gateway: httpx.Client) -> None:
    run = uuid.uuid4().hex[:6]
    made = {}
    for name, kind, country in (("Acme", "organization", "DE"), ("Bea", "person", "SE"), ("Cyd", "person", "DE")):
        body = {"kind": kind, "name": f"{name} {run}", "segmentation": {"geographic": {"country": country}}}
        r = gateway.post("/api/v1/customers", json=body)
        assert r.status_code == 201, r.text
        made[name] = r.json()["id"]
    search = {
        "filter_groups": [
            {"filters": [{"property": "kind", "operator": "eq", "value": "organization"}]},
            {"filters": [{"property": "country", "operator": "eq", "value": "SE"}]},
        ],
        "sorts": [{"property": "name", "direction": "asc"}],
        "limit": 200,
    }
    r = gateway.post("/api/v1/customers/search", json=search)
    assert r.status_code == 200, r.text
    found = [c["id"] for c in r.json()["items"] if c["name"].endswith(run)]
    assert found == [made["Acme"], made["Bea"]]


def test_unknown_parameters_and_fields_through_the_gateway(gateway: httpx.Client) -> None:
    r = gateway.get("/api/v1/customers", params={"colour": "red"})
    assert r.status_code == 422, r.text
    assert [(e["field"], e["location"]) for e in r.json()["errors"]] == [("colour", "query")]
    r = gateway.get("/api/v1/deals", params={"limit": 1, "stage": "won", "colour": "red"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "colour"
    r = gateway.get("/healthz", params={"colour": "red"})  # the gateway's own endpoints check too
    assert r.status_code == 422
    created = gateway.post("/api/v1/customers", json={"kind": "person", "name": "Fields Through"}).json()
    r = gateway.get(f"/api/v1/customers/{created['id']}", params={"fields": "name"})
    assert r.status_code == 200, r.text
    assert r.json() == {"id": created["id"], "name": "Fields Through"}
