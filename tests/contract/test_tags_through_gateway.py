"""Issue 24 parts 2 and 3 as a client sees them through the gateway (real HTTP, every process): an
agent tags a ticket (on create, by PATCH and in bulk) and finds it by tag; an admin defines a
ticket custom field and an agent is refused a value outside it, with the field named."""

from __future__ import annotations

import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))
from inprocess_stack import InprocessStack


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[httpx.Client, dict[str, dict[str, str]]]]:
    with InprocessStack(tmp_path_factory.mktemp("tags-stack")) as stack:
        url = stack.urls["gateway"]
        headers = {}
        for user in ("agent", "admin"):
            form = {"grant_type": "password", "username": user, "password": "local"}
            token = httpx.post(f"{url}/auth/token", data=form, timeout=10).json()["access_token"]
            headers[user] = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=url, timeout=10) as client:
            yield client, headers


def test_an_agent_tags_tickets_and_finds_them_by_tag(gateway: tuple[httpx.Client, dict[str, dict[str, str]]]) -> None:
    client, headers = gateway
    agent = headers["agent"]
    customer = client.post("/api/v1/customers", json={"kind": "person", "name": "Tag Through"}, headers=agent)
    assert customer.status_code == 201, customer.text
    run = uuid.uuid4().hex[:6]
    body = {"customer_id": customer.json()["id"], "subject": "Router down", "tags": [f"vip-{run}"]}
    # The desk learns the customer from crm.customer a moment later.
    deadline = time.monotonic() + 30
    while (first := client.post("/api/v1/tickets", json=body, headers=agent)).status_code == 503:
        assert time.monotonic() < deadline, first.text
        time.sleep(0.2)
    assert first.status_code == 201, first.text
    second = client.post("/api/v1/tickets", json={**body, "tags": []}, headers=agent)
    assert second.status_code == 201, second.text
    assert first.json()["tags"] == [f"vip-{run}"]

    r = client.post(
        "/api/v1/tickets/tags",
        json={"ids": [first.json()["id"], second.json()["id"]], "add": [f"outage-{run}"]},
        headers=agent,
    )
    assert r.status_code == 200, r.text
    assert [x["status"] for x in r.json()["results"]] == ["updated", "updated"]
    r = client.get("/api/v1/tickets", params={"tag": f"outage-{run}", "limit": 200}, headers=agent)
    assert r.status_code == 200, r.text
    assert {t["id"] for t in r.json()["items"]} == {first.json()["id"], second.json()["id"]}
    r = client.patch(f"/api/v1/tickets/{second.json()['id']}", json={"tags": []}, headers=agent)
    assert (r.status_code, r.json()["tags"]) == (200, [])
    r = client.get("/api/v1/tickets", params={"tag": f"vip-{run}", "limit": 200}, headers=agent)
    assert [t["id"] for t in r.json()["items"]] == [first.json()["id"]]

    key = f"product_{run}"
    field = {
        "entity": "ticket",
        "key": key,
        "label": "Product",
        "type": "enum",
        "options": [{"value": "router", "label": "Router"}],
    }
    r = client.post("/api/v1/custom-fields", json=field, headers=headers["admin"])
    assert r.status_code == 201, r.text
    r = client.post("/api/v1/tickets", json={**body, "custom_fields": {key: "toaster"}}, headers=agent)
    assert (r.status_code, r.json()["errors"][0]["field"]) == (422, f"custom_fields.{key}")
    r = client.post("/api/v1/tickets", json={**body, "custom_fields": {key: "router"}}, headers=agent)
    assert (r.status_code, r.json()["custom_fields"]) == (201, {key: "router"})
