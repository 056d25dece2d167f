"""Notifications' facts that travel, on real Kafka and PostgreSQL (issue 21): a write-off requested
in billing reaches the finance managers' inboxes in the notifications service; a dunning letter the
mail server refuses for good is recorded once as ``notification.failed`` and lands on the
customer's timeline in the customer service, under the read rule of the fact it was about."""

from __future__ import annotations

import asyncio
import socket
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
from aiokafka import AIOKafkaProducer

import tessera_billing.main as billing_main
import tessera_customer.main as customer_main
import tessera_notifications.main as notifications_main
from tessera_billing.settings import BillingSettings
from tessera_customer.settings import CustomerSettings
from tessera_notifications.email.service import Mailer, send_due
from tessera_notifications.settings import NotificationsSettings
from tessera_shared.events import build_event
from tessera_shared.events.contracts import DunningStep
from tessera_shared.events.envelope import topic_for
from tessera_shared.testing.plugin import bearer, migrations_of, running
from tessera_shared.testing.waiting import eventually

CUSTOMER_URL = "http://customer.test"


class MailSink:
    """A real SMTP server (aiosmtpd) on a free loopback port that refuses some recipients for
    good (550) and keeps what it accepts."""

    def __init__(self) -> None:
        self.messages: list[bytes] = []
        self.refused: set[str] = set()

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if address in self.refused:
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(envelope.content)
        return "250 Message accepted"

    def __enter__(self) -> MailSink:
        from aiosmtpd.controller import Controller

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = int(s.getsockname()[1])
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()


async def test_a_write_off_request_and_a_refused_letter_travel(databases, kafka_bootstrap, namespace) -> None:
    kafka = {
        "kafka_bootstrap": kafka_bootstrap,
        "kafka_topic_namespace": namespace,
        "kafka_partitions": 3,
        "log_json": False,
        "jobs_enabled": False,
        "token_revocations": False,
    }

    async def db(name: str, main: Any) -> str:
        return await databases.new(name, "postgres", migrations_of(main.__file__))

    customer = customer_main.create_app(CustomerSettings(database_url=await db("customer", customer_main), **kafka))
    to_customer = {CUSTOMER_URL: httpx.ASGITransport(app=customer)}
    billing = billing_main.create_app(
        BillingSettings(
            database_url=await db("billing", billing_main),
            kafka_consumer_group=f"{namespace}billing",
            customer_url=CUSTOMER_URL,
            **kafka,
        ),
        mounts=to_customer,
    )
    with MailSink() as sink:
        sink.refused.add("ap@acme.example")
        notifications = notifications_main.create_app(
            NotificationsSettings(
                database_url=await db("notifications", notifications_main),
                kafka_consumer_group=f"{namespace}notifications",
                smtp_port=sink.port,
                **kafka,
            )
        )
        async with running(customer) as crm, running(billing) as bill, running(notifications) as notes:
            admin = bearer(customer, "admin", "admin")
            r = await crm.post(
                "/v1/customers",
                json={"kind": "organization", "name": "Acme GmbH", "owner_id": "rep1", "email": "ap@acme.example"},
                headers=admin,
            )
            assert r.status_code == 201, r.text
            cid = r.json()["id"]
            clerk = bearer(billing, "clerk", "billing_clerk")

            async def invoice() -> dict[str, Any] | None:
                body = {
                    "customer_id": cid,
                    "currency": "EUR",
                    "issue": True,
                    "lines": [{"description": "Service", "quantity": "1", "unit_price": "70.00"}],
                }
                r = await bill.post("/v1/invoices", json=body, headers=clerk)
                return r.json() if r.status_code == 201 else None

            issued = await eventually(invoice)  # once billing knows the customer

            # -- a write-off awaiting approval: in the finance manager's inbox ------------------------
            r = await bill.post(
                "/v1/write-offs", json={"invoice_id": issued["id"], "reason": "insolvent"}, headers=clerk
            )
            assert r.status_code == 201, r.text
            write_off = r.json()
            finance = bearer(notifications, "finance", "finance_manager")

            async def finance_inbox() -> list[dict[str, Any]]:
                r = await notes.get("/v1/notifications", headers=finance)
                assert r.status_code == 200, r.text
                return list(r.json()["items"])

            [item] = await eventually(finance_inbox)
            assert (item["type"], item["link"]) == ("write_off.requested", f"/api/v1/write-offs/{write_off['id']}")
            assert item["title"] == f"Write-off awaiting approval: invoice {issued['number']}"
            assert "Acme GmbH" in item["body"] and "70.00 EUR" in item["body"]
            clerk_inbox = await notes.get("/v1/notifications", headers=bearer(notifications, "clerk", "billing_clerk"))
            assert clerk_inbox.json()["items"] == []

            # -- a dunning letter the mail server refuses for good: on the customer's timeline --------
            step = DunningStep(
                invoice_id=uuid.UUID(issued["id"]),
                number=issued["number"],
                customer_id=uuid.UUID(cid),
                step=1,
                days_overdue=8,
                action="reminder",
                amount_due=Decimal("70.00"),
                currency="EUR",
                occurred_at=datetime.now(UTC),
            )
            producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
            await producer.start()
            try:  # as billing's dunning job would publish it
                await producer.send_and_wait(
                    topic_for("billing", namespace), build_event(step, subject=cid).to_json(), key=cid.encode()
                )
            finally:
                await producer.stop()
            settings = notifications.state.settings
            mailer = Mailer(settings)

            async def letter_failed() -> bool:
                counts = await send_due(notifications.state.runtime.sessions, datetime.now(UTC), settings, mailer)
                return counts.get("failed", 0) == 1

            await eventually(letter_failed)
            assert sink.messages == []  # refused at RCPT: nothing delivered

            async def failures(*who: str) -> list[dict[str, Any]]:
                r = await crm.get(
                    f"/v1/customers/{cid}/timeline",
                    params={"kind": "notification.failed"},
                    headers=bearer(customer, *who),
                )
                assert r.status_code == 200, r.text
                return list(r.json()["items"])

            [entry] = await eventually(lambda: failures("admin", "admin"))
            assert entry["source"] == "notifications"
            assert entry["summary"].startswith("E-mail about dunning.step not delivered: recipient refused")
            assert entry["data"]["source_type"] == "dunning.step" and entry["data"]["recipient_kind"] == "customer"
            # A dunning step is read under the invoices' rule: the clerk and the finance manager see it.
            assert len(await failures("clerk", "billing_clerk")) == 1
            assert len(await failures("finance", "finance_manager")) == 1
            # Recorded once: another round of the sender job sends and records nothing more.
            assert await send_due(notifications.state.runtime.sessions, datetime.now(UTC), settings, mailer) == {}
            await asyncio.sleep(1.0)
            assert len(await failures("admin", "admin")) == 1
