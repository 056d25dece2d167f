"""contact.created, contact.updated, contact.deleted (docs/domain.md §6.2): each write of an
organisation's contacts publishes exactly one event, keyed (subject) by the customer and naming its owner;
a change names the fields whose value moved (new values), and a PATCH that moves none publishes
nothing."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from services.customer.tests.helpers import create, events
from tessera_shared.testing.plugin import bearer


async def contact_events(app: FastAPI) -> list[dict]:
    return [e for e in await events(app) if e["type"].startswith("contact.")]


@pytest.mark.sqlite
async def test_each_contact_write_is_one_event(app: FastAPI, client: httpx.AsyncClient) -> None:
    org = await create(client, app, ("rep1", "sales_rep"), kind="organization", name="Acme")
    h = bearer(app, "rep1", "sales_rep")
    url = f"/v1/customers/{org['id']}/contacts"
    r = await client.post(url, json={"name": "Grace Hopper", "email": "Grace@Acme.io", "title": "CTO"}, headers=h)
    assert r.status_code == 201, r.text
    contact = r.json()
    [created] = await contact_events(app)
    assert (created["type"], created["subject"]) == ("contact.created", org["id"])
    data = created["data"]
    assert (data["contact_id"], data["customer_id"], data["owner_id"]) == (contact["id"], org["id"], "rep1")
    assert (data["name"], data["email"], data["title"], data["phone"]) == ("Grace Hopper", "grace@acme.io", "CTO", None)

    # Same name, a new title, the department cleared (it was null: unchanged), the email in other case.
    r = await client.patch(
        f"{url}/{contact['id']}",
        json={"name": "Grace Hopper", "title": "CEO", "department": None, "email": "GRACE@acme.io"},
        headers=h,
    )
    assert r.status_code == 200, r.text
    [_, updated] = await contact_events(app)
    assert (updated["type"], updated["subject"]) == ("contact.updated", org["id"])
    assert updated["data"]["changes"] == {"title": "CEO"}
    assert r.headers["etag"] == f'"{contact["id"]}.{updated["data"]["version"]}"'
    assert updated["data"]["owner_id"] == "rep1"

    # Nothing moves: no event.
    r = await client.patch(f"{url}/{contact['id']}", json={"title": "CEO"}, headers=h)
    assert r.status_code == 200, r.text
    assert len(await contact_events(app)) == 2

    # A value cleared is named with null.
    r = await client.patch(f"{url}/{contact['id']}", json={"email": None}, headers=h)
    assert (await contact_events(app))[-1]["data"]["changes"] == {"email": None}

    r = await client.delete(f"{url}/{contact['id']}", headers=h)
    assert r.status_code == 204, r.text
    deleted = (await contact_events(app))[-1]
    assert (deleted["type"], deleted["subject"]) == ("contact.deleted", org["id"])
    assert (deleted["data"]["contact_id"], deleted["data"]["owner_id"]) == (contact["id"], "rep1")
    assert [e["type"] for e in await contact_events(app)] == [
        "contact.created",
        "contact.updated",
        "contact.updated",
        "contact.deleted",
    ]
