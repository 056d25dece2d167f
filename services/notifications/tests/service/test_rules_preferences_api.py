"""Routing rules (admin-managed, shipped defaults) and each user's preferences."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from notifications_helpers import activity_due, admin, deliver, large_deal, user

from tessera_notifications.preferences.models import Preference
from tessera_notifications.rules.rules import DEFAULT_RULES
from tessera_shared.db import unit_of_work
from tessera_shared.events.contracts import CustomerCreated, CustomerUpdated


@pytest.mark.sqlite
async def test_the_shipped_rules_and_an_admin_managing_them(app, client) -> None:
    listed = (await client.get("/v1/notification-rules?limit=200", headers=admin(app))).json()["items"]
    assert {r["event_type"] for r in listed} >= {
        "deal.large_detected",
        "activity.due",
        "sla.breached",
        "ticket.escalated",
        "credit.limit_exceeded",
        "invoice.overdue",
        "dunning.step",
        "lead.created",
        "customer.updated",
    }
    assert len(listed) == len(DEFAULT_RULES) and all(r["shipped"] for r in listed)

    # A rule for large deals above 1,000,000 that tells the admin too.
    created = await client.post(
        "/v1/notification-rules",
        json={
            "name": "Very large deals: the admin",
            "event_type": "deal.large_detected",
            "condition": [{"field": "amount", "op": "gte", "value": "1000000"}],
            "recipients": [{"kind": "user", "value": "admin"}],
        },
        headers=admin(app),
    )
    assert created.status_code == 201, created.text
    rule = created.json()
    assert rule["channels"] == ["in_app"] and created.headers["ETag"] == f'"{rule["id"]}.1"'
    one = await client.get(f"/v1/notification-rules/{rule['id']}", headers=admin(app))
    assert one.status_code == 200 and one.json()["name"] == "Very large deals: the admin"

    await deliver(app, large_deal(amount="250000.00"))
    await deliver(app, large_deal(amount="2500000.00"))
    inbox = (await client.get("/v1/notifications", headers=admin(app))).json()["items"]
    assert [n["title"] for n in inbox] == ["Large deal: 2500000.00 EUR"]

    stale = await client.patch(
        f"/v1/notification-rules/{rule['id']}", json={"enabled": False}, headers={**admin(app), "If-Match": '"x.9"'}
    )
    assert stale.status_code == 412
    patched = await client.patch(
        f"/v1/notification-rules/{rule['id']}",
        json={"enabled": False},
        headers={**admin(app), "If-Match": one.headers["ETag"]},
    )
    assert patched.status_code == 200 and patched.json()["enabled"] is False and patched.json()["version"] == 2
    await deliver(app, large_deal(amount="3000000.00"))
    assert len((await client.get("/v1/notifications", headers=admin(app))).json()["items"]) == 1

    # Removing the shipped large-deal rule silences the managers.
    shipped = next(r for r in listed if r["event_type"] == "deal.large_detected")
    assert (await client.delete(f"/v1/notification-rules/{shipped['id']}", headers=admin(app))).status_code == 204
    assert (await client.get(f"/v1/notification-rules/{shipped['id']}", headers=admin(app))).status_code == 404
    manager = user(app, "manager", "sales_manager")
    before = len((await client.get("/v1/notifications", headers=manager)).json()["items"])
    await deliver(app, large_deal(amount="400000.00"))
    assert len((await client.get("/v1/notifications", headers=manager)).json()["items"]) == before


async def test_only_admins_manage_rules_and_bad_rules_are_refused(app, client) -> None:
    manager = user(app, "manager", "sales_manager")
    assert (await client.get("/v1/notification-rules", headers=manager)).status_code == 403
    body = {"name": "x", "event_type": "deal.won", "recipients": [{"kind": "role", "value": "sales_manager"}]}
    assert (await client.post("/v1/notification-rules", json=body, headers=manager)).status_code == 403
    for bad in (
        {**body, "event_type": "not a type"},
        {**body, "event_type": "deal.nonexistent"},  # well formed, published by no one: would never match
        {**body, "event_type": "team.created"},  # the gateway's: not routed
        {**body, "recipients": []},
        {**body, "recipients": [{"kind": "everyone"}]},
        {**body, "condition": [{"field": "amount", "op": "like", "value": "1"}]},
        {**body, "channels": ["sms"]},
    ):
        refused = await client.post("/v1/notification-rules", json=bad, headers=admin(app))
        assert refused.status_code == 422, bad
        if bad["event_type"] == "deal.nonexistent":
            assert [e["field"] for e in refused.json()["errors"]] == ["event_type"]
    assert (
        await client.patch(f"/v1/notification-rules/{uuid.uuid4()}", json={}, headers=admin(app))
    ).status_code == 404


@pytest.mark.sqlite
async def test_preferences_per_event_type_mute_the_inbox(app, client) -> None:
    rep = user(app, "rep1", "sales_rep")
    shown = (await client.get("/v1/notification-preferences", headers=rep)).json()["items"]
    due = next(p for p in shown if p["event_type"] == "activity.due")
    assert due == {"event_type": "activity.due", "in_app": True, "email": False, "digest": "none"}

    put = await client.put(
        "/v1/notification-preferences",
        json={"items": [{"event_type": "activity.due", "in_app": False, "email": True, "digest": "daily"}]},
        headers=rep,
    )
    assert put.status_code == 200, put.text
    assert next(p for p in put.json()["items"] if p["event_type"] == "activity.due") == {
        "event_type": "activity.due",
        "in_app": False,
        "email": True,
        "digest": "daily",
    }
    await deliver(app, activity_due("rep1"))
    await deliver(app, activity_due("rep2"))
    assert (await client.get("/v1/notifications", headers=rep)).json()["items"] == []
    assert len((await client.get("/v1/notifications", headers=user(app, "rep2", "sales_rep"))).json()["items"]) == 1

    twice = {"items": [{"event_type": "activity.due"}, {"event_type": "activity.due"}]}
    assert (await client.put("/v1/notification-preferences", json=twice, headers=rep)).status_code == 422
    unknown = {"items": [{"event_type": "activity.due"}, {"event_type": "nope.nope", "email": True}]}
    refused = await client.put("/v1/notification-preferences", json=unknown, headers=rep)
    assert refused.status_code == 422 and [e["field"] for e in refused.json()["errors"]] == ["items.1.event_type"]
    shown = (await client.get("/v1/notification-preferences", headers=rep)).json()["items"]
    assert "nope.nope" not in {p["event_type"] for p in shown}

    # A choice stored for a type that is not published (before types were checked, or retired) is
    # not shown, so what a GET shows a PUT takes back.
    async with unit_of_work(app.state.runtime.sessions) as session:
        session.add(Preference(user_id="rep1", event_type="deal.retired", in_app=False))
    shown = (await client.get("/v1/notification-preferences", headers=rep)).json()
    assert "deal.retired" not in {p["event_type"] for p in shown["items"]}
    assert (await client.put("/v1/notification-preferences", json=shown, headers=rep)).status_code == 200


async def test_a_customer_claimed_tells_the_new_owner(app, client) -> None:
    customer_id = uuid.uuid4()
    now = datetime.now(UTC)
    await deliver(
        app,
        CustomerCreated(
            customer_id=customer_id, kind="person", name="Jane Roe", owner_id=None, status="prospect", created_at=now
        ),
    )
    await deliver(
        app,
        CustomerUpdated(
            customer_id=customer_id,
            changed_fields=["owner_id"],
            name="Jane Roe",
            owner_id="rep2",
            version=2,
            updated_at=now,
        ),
    )
    await deliver(
        app,
        CustomerUpdated(
            customer_id=customer_id,
            changed_fields=["name"],
            name="Jane Doe",
            owner_id="rep2",
            version=3,
            updated_at=now,
        ),
    )
    items = (await client.get("/v1/notifications", headers=user(app, "rep2", "sales_rep"))).json()["items"]
    assert [(n["title"], n["body"]) for n in items] == [("A customer is now yours", "Jane Roe")]
