"""Every change a client can see is announced through the outbox (issue 21): marking notifications
read, an admin's rule changes, a user's preferences; a write-off awaiting approval reaches the
finance managers; the service's rows about a customer are in the data-subject export."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import orjson
import pytest
from notifications_helpers import MailSink, activity_due, admin, deliver, make_app, user
from sqlalchemy import select

from tessera_notifications.email.service import Mailer, send_due
from tessera_shared.db import read_session
from tessera_shared.events.contracts import CustomerCreated, DunningStep
from tessera_shared.events.contracts.billing import WriteOffRequested
from tessera_shared.infra_tables import outbox
from tessera_shared.testing.plugin import bearer, running


async def published(app: Any, event_type: str) -> list[tuple[str | None, dict[str, Any]]]:
    """(key, data) of the outbox rows of ``event_type``, oldest first."""
    async with read_session(app.state.runtime.sessions) as session:
        rows = (
            await session.execute(
                select(outbox.c.key, outbox.c.envelope).where(outbox.c.event_type == event_type).order_by(outbox.c.seq)
            )
        ).all()
    return [(key, orjson.loads(envelope)["data"]) for key, envelope in rows]


@pytest.mark.sqlite
async def test_marking_read_is_announced_once_per_change(app, client) -> None:
    rep = user(app, "rep1", "sales_rep")
    for subject in ("one", "two", "three"):
        await deliver(app, activity_due("rep1", subject))
    mine = (await client.get("/v1/notifications?order=newest", headers=rep)).json()["items"]
    assert (await client.post(f"/v1/notifications/{mine[1]['id']}/read", headers=rep)).status_code == 200
    # Read again: nothing moved, nothing announced.
    assert (await client.post(f"/v1/notifications/{mine[1]['id']}/read", headers=rep)).status_code == 200
    [(key, one)] = await published(app, "notification.read")
    assert key == "rep1"
    assert (one["user_id"], one["notification_id"], one["through_seq"], one["marked"]) == ("rep1", mine[1]["id"], 2, 1)

    assert (await client.post("/v1/notifications/read-all", headers=rep)).json() == {"marked": 2}
    assert (await client.post("/v1/notifications/read-all", headers=rep)).json() == {"marked": 0}
    reads = await published(app, "notification.read")
    assert len(reads) == 2  # the second read-all marked nothing
    key, every = reads[1]
    assert key == "rep1"
    assert (every["notification_id"], every["through_seq"], every["marked"]) == (None, 3, 2)
    assert every["read_at"] is not None


@pytest.mark.sqlite
async def test_rule_changes_are_announced(app, client) -> None:
    body = {
        "name": "Big invoices: finance",
        "event_type": "invoice.issued",
        "condition": [{"field": "total", "op": "gte", "value": "1000"}],
        "recipients": [{"kind": "role", "value": "finance_manager"}],
        "channels": ["in_app"],
    }
    created = await client.post("/v1/notification-rules", json=body, headers=admin(app))
    assert created.status_code == 201, created.text
    rule_id = created.json()["id"]
    [(key, fact)] = await published(app, "notification_rule.created")
    assert key == rule_id
    assert (fact["rule_id"], fact["rule_event_type"], fact["created_by"], fact["version"]) == (
        rule_id,
        "invoice.issued",
        "admin",
        1,
    )
    assert fact["condition"] == body["condition"] and fact["recipients"] == [
        {"kind": "role", "value": "finance_manager"}
    ]

    url = f"/v1/notification-rules/{rule_id}"
    changed = await client.patch(url, json={"enabled": False, "name": body["name"]}, headers=admin(app))
    assert changed.status_code == 200 and changed.json()["version"] == 2
    # The same values again: no new version, nothing announced.
    same = await client.patch(url, json={"enabled": False}, headers=admin(app))
    assert same.status_code == 200 and same.json()["version"] == 2
    [(_, update)] = await published(app, "notification_rule.updated")
    assert (update["changes"], update["version"], update["updated_by"]) == ({"enabled": False}, 2, "admin")

    assert (await client.delete(url, headers=admin(app))).status_code == 204
    [(key, deleted)] = await published(app, "notification_rule.deleted")
    assert (key, deleted["rule_id"], deleted["rule_event_type"], deleted["deleted_by"]) == (
        rule_id,
        rule_id,
        "invoice.issued",
        "admin",
    )


@pytest.mark.sqlite
async def test_preference_changes_are_announced(app, client) -> None:
    rep = user(app, "rep1", "sales_rep")
    items = [
        {"event_type": "activity.due", "in_app": True, "email": True, "digest": "daily"},
        {"event_type": "deal.large_detected", "in_app": False, "email": False, "digest": "none"},
    ]
    assert (await client.put("/v1/notification-preferences", json={"items": items}, headers=rep)).status_code == 200
    # The same choices in another order: nothing changed, nothing announced.
    again = {"items": list(reversed(items))}
    assert (await client.put("/v1/notification-preferences", json=again, headers=rep)).status_code == 200
    [(key, fact)] = await published(app, "notification_preferences.updated")
    assert (key, fact["user_id"]) == ("rep1", "rep1")
    assert fact["items"] == items
    assert (await client.put("/v1/notification-preferences", json={"items": []}, headers=rep)).status_code == 200
    facts = await published(app, "notification_preferences.updated")
    assert len(facts) == 2 and facts[1][1]["items"] == []


@pytest.mark.sqlite
async def test_a_write_off_awaiting_approval_reaches_the_finance_managers(app, client) -> None:
    customer_id = uuid.uuid4()
    await deliver(
        app,
        CustomerCreated(
            customer_id=customer_id,
            kind="organization",
            name="Acme GmbH",
            owner_id="rep1",
            status="active",
            created_at=datetime.now(UTC),
        ),
    )
    data = WriteOffRequested(
        write_off_id=uuid.uuid4(),
        invoice_id=uuid.uuid4(),
        number="INV-2026-0042",
        customer_id=customer_id,
        amount=Decimal("70.00"),
        currency="EUR",
        requested_by="clerk",
        requested_at=datetime.now(UTC),
    )
    await deliver(app, data, subject=customer_id)
    finance = (await client.get("/v1/notifications", headers=user(app, "finance", "finance_manager"))).json()
    assert [(n["type"], n["title"], n["link"]) for n in finance["items"]] == [
        (
            "write_off.requested",
            "Write-off awaiting approval: invoice INV-2026-0042",
            f"/api/v1/write-offs/{data.write_off_id}",
        )
    ]
    assert finance["items"][0]["body"] == "clerk asks to write off 70.00 EUR of Acme GmbH."
    # Nobody else is told: not the clerk who asked, not the customer's owner.
    for name, role in (("clerk", "billing_clerk"), ("rep1", "sales_rep"), ("manager", "sales_manager")):
        assert (await client.get("/v1/notifications", headers=user(app, name, role))).json()["items"] == []


@pytest.mark.sqlite
async def test_the_data_subject_export_holds_the_service_rows_about_the_customer(databases, backend) -> None:
    with MailSink() as sink:
        app = await make_app(databases, backend, smtp_port=sink.port)
        customer_id = uuid.uuid4()
        other = uuid.uuid4()
        async with running(app) as client:
            for cid, address in ((customer_id, "ap@acme.example"), (other, "someone@else.example")):
                await deliver(
                    app,
                    CustomerCreated(
                        customer_id=cid,
                        kind="organization",
                        name="Acme GmbH",
                        owner_id="rep1",
                        email=address,
                        status="active",
                        created_at=datetime.now(UTC),
                    ),
                )
            await deliver(
                app,
                DunningStep(
                    invoice_id=uuid.uuid4(),
                    number="INV-9",
                    customer_id=customer_id,
                    step=1,
                    days_overdue=8,
                    action="reminder",
                    amount_due=Decimal("120.00"),
                    currency="EUR",
                    occurred_at=datetime.now(UTC),
                ),
                subject=customer_id,
            )
            settings = app.state.settings
            await send_due(app.state.runtime.sessions, datetime.now(UTC), settings, Mailer(settings))
            assert len(sink.messages) == 1

            path = f"/v1/data-subjects/{customer_id}/export"
            r = await client.get(path, headers=bearer(app, "svc-gateway", "service", kind="client"))
            assert r.status_code == 200, r.text
            tables = r.json()["tables"]
    text = orjson.dumps(tables).decode()
    # The address kept for letters, the letter itself, and the owner's inbox line about it.
    assert [row["email"] for row in tables["customer_contacts"]] == ["ap@acme.example"]
    [letter] = tables["email_messages"]
    assert (letter["to_address"], letter["template"], letter["status"]) == ("ap@acme.example", "dunning", "sent")
    assert [n["type"] for n in tables["notifications"]] == ["dunning.step"]
    assert str(customer_id) in text and "someone@else.example" not in text and str(other) not in text
