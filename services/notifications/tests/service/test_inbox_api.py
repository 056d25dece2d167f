"""The in-app inbox: routed facts land in the right users' inboxes, once; a user reads, pages,
filters and marks only their own notifications."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from notifications_helpers import activity_due, deal_created, deliver, invoice_issued, large_deal, user
from sqlalchemy import func, select

from tessera_notifications.inbox.models import Notification
from tessera_shared.db import read_session
from tessera_shared.events.contracts import (
    CreditLimitExceeded,
    CustomerCreated,
    InvoiceOverdue,
    TicketEscalated,
)
from tessera_shared.infra_tables import outbox


def manager(app):
    return user(app, "manager", "sales_manager")


def rep(app, name="rep1"):
    return user(app, name, "sales_rep")


@pytest.mark.sqlite
async def test_a_large_deal_reaches_the_sales_managers_once(app, client) -> None:
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
    data = large_deal(customer_id)
    event = await deliver(app, data)
    # The same fact again (a redelivery the inbox table did not stop): still one notification.
    handler = app.state.runtime.spec.handlers[event.type]
    from tessera_shared.db import unit_of_work

    async with unit_of_work(app.state.runtime.sessions) as session:
        await handler(session, event, event.typed_data())

    page = (await client.get("/v1/notifications", headers=manager(app))).json()
    assert len(page["items"]) == 1
    item = page["items"][0]
    assert item["type"] == "deal.large_detected"
    assert item["link"] == f"/api/v1/deals/{data.deal_id}"
    assert "Acme GmbH" in item["body"] and "250000.00 EUR" in item["title"]
    assert item["read_at"] is None and item["seq"] == 1
    # The rep who owns it is no sales manager: nothing for them.
    assert (await client.get("/v1/notifications", headers=rep(app))).json()["items"] == []
    assert (await client.get("/v1/notifications/unread-count", headers=manager(app))).json() == {"unread": 1}
    async with read_session(app.state.runtime.sessions) as session:
        sent = (await session.execute(select(outbox.c.event_type, outbox.c.key))).all()
    assert sent == [("notification.sent", "manager")]


@pytest.mark.sqlite
async def test_read_one_and_read_all_only_in_the_own_inbox(app, client) -> None:
    for subject in ("one", "two", "three"):
        await deliver(app, activity_due("rep1", subject))
    await deliver(app, activity_due("rep2", "theirs"))
    mine = (await client.get("/v1/notifications", headers=rep(app))).json()["items"]
    assert [n["title"] for n in mine] == ["Reminder: three", "Reminder: two", "Reminder: one"]
    theirs = (await client.get("/v1/notifications", headers=rep(app, "rep2"))).json()["items"]

    # Another user's notification is as unknown as a missing one.
    refused = await client.post(f"/v1/notifications/{theirs[0]['id']}/read", headers=rep(app))
    assert refused.status_code == 404
    read = await client.post(f"/v1/notifications/{mine[1]['id']}/read", headers=rep(app))
    assert read.status_code == 200 and read.json()["read_at"] is not None
    assert (await client.get("/v1/notifications/unread-count", headers=rep(app))).json() == {"unread": 2}

    # Unread first (newest first within), or newest first whatever the state.
    unread_first = (await client.get("/v1/notifications", headers=rep(app))).json()["items"]
    assert [n["title"] for n in unread_first] == ["Reminder: three", "Reminder: one", "Reminder: two"]
    newest = (await client.get("/v1/notifications?order=newest", headers=rep(app))).json()["items"]
    assert [n["title"] for n in newest] == ["Reminder: three", "Reminder: two", "Reminder: one"]
    only_read = (await client.get("/v1/notifications?read=true", headers=rep(app))).json()["items"]
    assert [n["title"] for n in only_read] == ["Reminder: two"]

    marked = await client.post("/v1/notifications/read-all", headers=rep(app))
    assert marked.status_code == 200 and marked.json() == {"marked": 2}
    assert (await client.get("/v1/notifications/unread-count", headers=rep(app))).json() == {"unread": 0}
    # rep2's stays unread.
    assert (await client.get("/v1/notifications/unread-count", headers=rep(app, "rep2"))).json() == {"unread": 1}


async def test_cursor_pages_and_type_filter(app, client) -> None:
    for i in range(5):
        await deliver(app, activity_due("rep1", f"a{i}"))
    await deliver(
        app,
        InvoiceOverdue(
            invoice_id=uuid.uuid4(),
            number="INV-1",
            customer_id=uuid.uuid4(),
            amount_due=Decimal("5.00"),
            currency="EUR",
            due_date=datetime.now(UTC).date(),
            days_overdue=3,
            detected_at=datetime.now(UTC),
        ),
    )
    seen, cursor = [], None
    while True:
        params = {"limit": 2, "type": "activity.due", **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/v1/notifications", params=params, headers=rep(app))).json()
        seen += [n["title"] for n in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [f"Reminder: a{i}" for i in (4, 3, 2, 1, 0)]


async def test_the_record_owner_the_finance_managers_and_the_next_tier(app, client) -> None:
    customer_id, deal_id, invoice_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    # invoice.overdue names no owner: the invoice's deal (from invoice.issued) is rep2's.
    await deliver(app, deal_created(deal_id, customer_id, "rep2"))
    await deliver(
        app,
        invoice_issued(invoice_id, customer_id, deal_id),
    )
    await deliver(
        app,
        InvoiceOverdue(
            invoice_id=invoice_id,
            number="INV-7",
            customer_id=customer_id,
            amount_due=Decimal("9.00"),
            currency="EUR",
            due_date=datetime.now(UTC).date(),
            days_overdue=4,
            detected_at=datetime.now(UTC),
        ),
    )
    await deliver(
        app,
        CreditLimitExceeded(
            customer_id=customer_id,
            requested_amount=Decimal("10"),
            exposure=Decimal("5"),
            credit_limit=Decimal("12"),
            currency="EUR",
            detected_at=datetime.now(UTC),
        ),
    )
    await deliver(
        app,
        TicketEscalated(
            ticket_id=uuid.uuid4(),
            customer_id=customer_id,
            level=1,
            reason="waiting too long",
            priority="high",
            escalated_at=datetime.now(UTC),
        ),
    )
    rep2 = (await client.get("/v1/notifications", headers=rep(app, "rep2"))).json()["items"]
    assert [n["title"] for n in rep2] == ["Invoice INV-7 overdue"]
    finance = (await client.get("/v1/notifications", headers=user(app, "finance", "finance_manager"))).json()
    assert [n["type"] for n in finance["items"]] == ["credit.limit_exceeded"]
    # Level 1 goes to the first escalation team (tier2): the agent in local mode, not the admin (tier3).
    agent = (await client.get("/v1/notifications", headers=user(app, "agent", "support_agent"))).json()
    assert [n["title"] for n in agent["items"]] == ["Ticket escalated to level 1"]
    assert (await client.get("/v1/notifications", headers=user(app, "admin", "admin"))).json()["items"] == []


async def test_a_client_credential_has_no_inbox(app, client) -> None:
    from tessera_shared.testing.plugin import bearer

    answer = await client.get("/v1/notifications", headers=bearer(app, "svc-sales", "service", kind="client"))
    assert answer.status_code == 403
    assert (await client.get("/v1/notifications")).status_code == 401


async def test_many_facts_give_each_user_gapless_numbers(app, client) -> None:
    for i in range(20):
        await deliver(app, activity_due("rep1", f"n{i}"))
    async with read_session(app.state.runtime.sessions) as session:
        seqs = list((await session.execute(select(Notification.seq).order_by(Notification.seq))).scalars())
        count = (await session.execute(select(func.count()).select_from(Notification))).scalar_one()
    assert seqs == list(range(1, 21)) and count == 20
