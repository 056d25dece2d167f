"""Builders for the notifications service's tests: apps, users' tokens, facts delivered by hand."""

from __future__ import annotations

import email
import email.policy
import socket
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from fastapi import FastAPI

import tessera_notifications.main as notifications_main
from tessera_notifications.settings import NotificationsSettings
from tessera_shared.db import unit_of_work
from tessera_shared.events import CloudEvent, build_event
from tessera_shared.events.contracts import ActivityDue, DealCreated, DealLargeDetected, InvoiceIssued
from tessera_shared.events.envelope import EventData
from tessera_shared.testing.databases import DatabaseFactory
from tessera_shared.testing.plugin import bearer, migrations_of


async def make_app(databases: DatabaseFactory, backend: str, **overrides: Any) -> FastAPI:
    url = await databases.new("notifications", backend, migrations_of(notifications_main.__file__))
    settings = {"database_url": url, "kafka_enabled": False, "log_json": False, "jobs_enabled": False, **overrides}
    return notifications_main.create_app(NotificationsSettings(**settings))


def user(app: FastAPI, name: str, role: str) -> dict[str, str]:
    return bearer(app, name, role)


def admin(app: FastAPI) -> dict[str, str]:
    return bearer(app, "admin", "admin")


async def deliver(app: FastAPI, data: EventData, subject: uuid.UUID | str | None = None) -> CloudEvent:
    """Run the consumer's handler for ``data`` in one transaction, as the runner would."""
    event = build_event(data, subject=subject)
    handler = app.state.runtime.spec.handlers[event.type]
    async with unit_of_work(app.state.runtime.sessions) as session:
        await handler(session, event, event.typed_data())
    return event


def large_deal(customer_id: uuid.UUID | None = None, amount: str = "250000.00") -> DealLargeDetected:
    return DealLargeDetected(
        deal_id=uuid.uuid4(),
        customer_id=customer_id or uuid.uuid4(),
        amount=Decimal(amount),
        currency="EUR",
        threshold=Decimal("100000.00"),
        owner_id="rep1",
        detected_at=datetime.now(UTC),
    )


def activity_due(owner: str = "rep1", subject: str = "Call back") -> ActivityDue:
    return ActivityDue(
        activity_id=uuid.uuid4(),
        subject=subject,
        owner_id=owner,
        due_at=datetime.now(UTC),
        remind_at=datetime.now(UTC),
    )


def deal_created(deal_id: uuid.UUID, customer_id: uuid.UUID, owner: str) -> DealCreated:
    return DealCreated(
        deal_id=deal_id,
        customer_id=customer_id,
        title="Big one",
        amount=Decimal("10.00"),
        currency="EUR",
        stage="qualification",
        probability=10,
        owner_id=owner,
        created_at=datetime.now(UTC),
    )


def invoice_issued(invoice_id: uuid.UUID, customer_id: uuid.UUID, deal_id: uuid.UUID) -> InvoiceIssued:
    """INV-7 for the deal, 9.00 EUR, issued and due today."""
    today = datetime.now(UTC).date()
    return InvoiceIssued(
        invoice_id=invoice_id,
        number="INV-7",
        customer_id=customer_id,
        deal_id=deal_id,
        total=Decimal("9.00"),
        currency="EUR",
        issue_date=today,
        due_date=today,
        issued_at=datetime.now(UTC),
    )


class MailSink:
    """A real SMTP server (aiosmtpd) on a free loopback port that keeps what it accepts; it can
    answer the next DATA commands with a temporary failure, or refuse some recipients for good."""

    def __init__(self) -> None:
        self.messages: list[email.message.Message] = []
        self.fail_next = 0
        self.refused: set[str] = set()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refused:
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.fail_next:
            self.fail_next -= 1
            return "451 4.3.0 try again later"
        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        return "250 Message accepted"

    def __enter__(self) -> MailSink:
        from aiosmtpd.controller import Controller

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()
