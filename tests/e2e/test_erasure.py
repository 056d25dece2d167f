"""Erasure that leaves nothing (docs/domain.md §10.3), on real Kafka and PostgreSQL.

A customer's unique marker goes into every free text of every service: the customer record and a
contact; a converted lead, deals with lines, a stage change with its reason, a lost deal's reason,
an activity's subject and notes; a ticket's subject, description, comment, escalation reason and
its survey's comment; an invoice's note and lines, a payment's reference, a write-off's reason
and decision note; the notifications those facts make (the escalation's, quoting its reason).
The customer is erased through the gateway, as a client would; once every
service has applied customer.erased, no text, varchar or JSON column of any table of any
service's database (the outboxes, inboxes and stored Idempotency-Key answers included) holds the
marker.
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import httpx2
from fastapi import FastAPI
from sqlalchemy import Text, cast, func, select, text
from sqlalchemy.sql import column as sql_column
from sqlalchemy.sql import table as sql_table

import tessera_billing.main as billing_main
import tessera_customer.main as customer_main
import tessera_gateway.main as gateway_main
import tessera_notifications.main as notifications_main
import tessera_sales.main as sales_main
import tessera_service_desk.main as desk_main
from tessera_billing.settings import BillingSettings
from tessera_customer.settings import CustomerSettings
from tessera_gateway.settings import GatewaySettings
from tessera_notifications.settings import NotificationsSettings
from tessera_sales.testing import sales_settings
from tessera_service_desk.settings import ServiceDeskSettings
from tessera_shared.infra_tables import outbox
from tessera_shared.testing.plugin import bearer, migrations_of, running
from tessera_shared.testing.waiting import eventually

CUSTOMER_URL = "http://customer.test"
TEXT_TYPES = ("text", "character varying", "json", "jsonb")


async def scalar(app: FastAPI, sql: str, **params: Any) -> Any:
    async with app.state.runtime.sessions() as s:
        return await s.scalar(text(sql), params)


async def hits(app: FastAPI, marker: str) -> dict[str, int]:
    """Every text, varchar and JSON column of every table of the app's database that holds ``marker``."""
    async with app.state.runtime.sessions() as s:
        columns = (
            await s.execute(
                text(
                    "SELECT table_name, column_name FROM information_schema.columns"
                    " WHERE table_schema = current_schema() AND data_type = ANY(:types)"
                    " ORDER BY table_name, column_name"
                ),
                {"types": list(TEXT_TYPES)},
            )
        ).all()
        assert columns, "no text columns found: the search would prove nothing"
        found: dict[str, int] = {}
        for table, column in columns:
            n = await s.scalar(
                select(func.count())
                .select_from(sql_table(table))
                .where(cast(sql_column(column), Text).ilike(f"%{marker}%"))
            )
            if n:
                found[f"{table}.{column}"] = int(n)
        return found


def once(headers: dict[str, str]) -> dict[str, str]:
    """With an ``Idempotency-Key``: the service stores its answer (which quotes the texts) for retries."""
    return {**headers, "Idempotency-Key": uuid.uuid4().hex}


async def drained(*apps: FastAPI) -> bool:
    """Every outbox row of every app has been sent."""
    for app in apps:
        async with app.state.runtime.sessions() as s:
            if await s.scalar(select(func.count()).select_from(outbox).where(outbox.c.sent_at.is_(None))):
                return False
    return True


async def test_an_erased_customer_leaves_no_text_in_any_service(databases, kafka_bootstrap, namespace) -> None:
    mark = f"zqx{uuid.uuid4().hex[:10]}"
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
    sales = sales_main.create_app(
        sales_settings(
            await db("sales", sales_main),
            kafka_enabled=True,
            kafka_consumer_group=f"{namespace}sales",
            customer_url=CUSTOMER_URL,
            **kafka,
        ),
        mounts=to_customer,
    )
    desk = desk_main.create_app(
        ServiceDeskSettings(
            database_url=await db("service-desk", desk_main),
            kafka_consumer_group=f"{namespace}service-desk",
            customer_url=CUSTOMER_URL,
            **kafka,
        ),
        mounts=to_customer,
    )
    billing = billing_main.create_app(
        BillingSettings(
            database_url=await db("billing", billing_main),
            kafka_consumer_group=f"{namespace}billing",
            customer_url=CUSTOMER_URL,
            **kafka,
        ),
        mounts=to_customer,
    )
    gateway = gateway_main.create_app(
        GatewaySettings(
            database_url=await db("gateway", gateway_main),
            log_json=False,
            customer_url=CUSTOMER_URL,
            token_revocations=False,
            kafka_bootstrap=kafka_bootstrap,
            kafka_topic_namespace=namespace,
        ),
        mounts={CUSTOMER_URL: httpx2.ASGITransport(app=customer)},
    )
    notifications = notifications_main.create_app(
        NotificationsSettings(
            database_url=await db("notifications", notifications_main),
            kafka_consumer_group=f"{namespace}notifications",
            **kafka,
        )
    )
    services = {
        "customer": customer,
        "sales": sales,
        "service-desk": desk,
        "billing": billing,
        "notifications": notifications,
    }

    async with (
        running(customer) as crm,
        running(sales) as sell,
        running(desk) as help_desk,
        running(billing) as bill,
        running(notifications),
        running(gateway) as gw,
    ):
        admin = bearer(customer, "admin", "admin")
        # -- the customer service: record, custom attributes, a contact ---------------------------
        r = await crm.post(
            "/v1/customers",
            json={
                "kind": "organization",
                "name": f"Ada {mark} GmbH",
                "email": f"{mark}@example.com",
                "custom_attributes": {"nickname": f"the {mark}"},
                "owner_id": "rep1",
            },
            headers=admin,
        )
        assert r.status_code == 201, r.text
        cid = r.json()["id"]
        r = await crm.post(
            f"/v1/customers/{cid}/contacts",
            json={"name": f"Charles {mark}", "title": f"CTO {mark}", "email": f"c.{mark}@example.com"},
            headers=once(admin),
        )
        assert r.status_code == 201, r.text

        async def known_everywhere() -> bool:
            for app in (sales, desk, billing):
                if not await scalar(app, "SELECT count(*) FROM known_customers WHERE customer_id = :c", c=cid):
                    return False
            return True

        await eventually(known_everywhere)

        # -- sales: a converted lead, deals with lines, a stage change, a lost deal, an activity ----
        rep = bearer(sales, "rep1", "sales_rep")
        manager = bearer(sales, "manager", "sales_manager")
        r = await sell.post(
            "/v1/leads", json={"name": f"Lead {mark}", "company": f"{mark} Ltd", "source": "other"}, headers=rep
        )
        assert r.status_code == 201, r.text
        r = await sell.post(f"/v1/leads/{r.json()['id']}/convert", json={"customer_id": cid}, headers=rep)
        assert r.status_code == 200, r.text
        r = await sell.post(
            "/v1/deals",
            json={
                "customer_id": cid,
                "title": f"Deal for {mark}",
                "currency": "EUR",
                "line_items": [{"description": f"Line for {mark}", "quantity": "2", "unit_price": "150.00"}],
            },
            headers=rep,
        )
        assert r.status_code == 201, r.text
        deal = r.json()
        r = await sell.patch(f"/v1/deals/{deal['id']}", json={"stage": "proposal"}, headers=rep)
        assert r.status_code == 200, r.text
        r = await sell.post(
            "/v1/deals",
            json={"customer_id": cid, "title": f"Lost {mark}", "currency": "EUR", "amount": "50.00"},
            headers=rep,
        )
        assert r.status_code == 201, r.text
        lost = r.json()
        r = await sell.post(
            f"/v1/deals/{lost['id']}/lose", json={"reason": f"{mark} went elsewhere"}, headers=once(rep)
        )
        assert r.status_code == 200, r.text
        r = await sell.post(f"/v1/deals/{lost['id']}/reopen", json={"reason": f"{mark} came back"}, headers=manager)
        assert r.status_code == 200, r.text
        r = await sell.post(f"/v1/deals/{lost['id']}/lose", json={"reason": f"{mark} left again"}, headers=rep)
        assert r.status_code == 200, r.text
        r = await sell.post(
            "/v1/activities",
            json={"kind": "call", "subject": f"Called {mark}", "notes": f"{mark} said", "customer_id": cid},
            headers=rep,
        )
        assert r.status_code == 201, r.text

        # -- the service desk: a ticket, a comment, an escalation, the survey's comment --------------
        agent = bearer(desk, "agent", "support_agent")
        r = await help_desk.post(
            "/v1/tickets",
            json={
                "customer_id": cid,
                "subject": f"Printer of {mark}",
                "description": f"{mark} reports",
                "priority": "normal",
                "assignee_id": "agent",
            },
            headers=agent,
        )
        assert r.status_code == 201, r.text
        ticket = r.json()
        r = await help_desk.post(f"/v1/tickets/{ticket['id']}/comments", json={"body": f"{mark} again"}, headers=agent)
        assert r.status_code == 201, r.text
        r = await help_desk.post(
            f"/v1/tickets/{ticket['id']}/escalations", json={"reason": f"{mark} is angry"}, headers=agent
        )
        assert r.status_code == 200, r.text
        r = await help_desk.patch(f"/v1/tickets/{ticket['id']}", json={"status": "closed"}, headers=agent)
        assert r.status_code == 200, r.text
        closed = r.json()
        token = closed["survey_url"].split("token=", 1)[1]
        r = await help_desk.post(
            f"/v1/surveys/{closed['survey_id']}/answer",
            params={"token": token},
            json={"csat": 2, "comment": f"{mark} was unhappy"},
        )
        assert r.status_code == 200, r.text

        # -- billing: an invoice with a note and lines, a payment reference, a write-off ------------
        clerk = bearer(billing, "clerk", "billing_clerk")
        invoice_ids = []
        for amount in ("100.00", "80.00"):
            r = await bill.post(
                "/v1/invoices",
                json={
                    "customer_id": cid,
                    "currency": "EUR",
                    "issue": True,
                    "note": f"Call {mark} first",
                    "lines": [{"description": f"Work for {mark}", "quantity": "1", "unit_price": amount}],
                },
                headers=clerk,
            )
            assert r.status_code == 201, r.text
            invoice_ids.append(r.json()["id"])
        r = await bill.post(
            "/v1/payments",
            json={
                "invoice_id": invoice_ids[0],
                "amount": "100.00",
                "currency": "EUR",
                "received_on": "2026-03-10",
                "reference": f"{mark} IBAN",
            },
            headers=once(clerk),
        )
        assert r.status_code == 201, r.text
        r = await bill.post(
            "/v1/write-offs",
            json={"invoice_id": invoice_ids[1], "reason": f"{mark} is insolvent"},
            headers=once(clerk),
        )
        assert r.status_code == 201, r.text
        r = await bill.post(
            f"/v1/write-offs/{r.json()['id']}/approve",
            json={"note": f"{mark} agreed"},
            headers=bearer(billing, "fm", "finance_manager"),
        )
        assert r.status_code == 200, r.text

        # The escalation reached its tier's inbox (the notification quotes its reason).
        await eventually(lambda: hits(notifications, mark))
        # Every service holds the marker now (the search finds what it must find) ...
        for name, app in services.items():
            found = await hits(app, mark)
            assert found, f"{name} holds no marker before the erasure: the test proves nothing"
            # The desk's writes here take no Idempotency-Key; notifications takes no writes of texts.
            if name not in ("service-desk", "notifications"):
                assert "idempotency_keys.response_body" in found, name
        # ... and the customer service has recorded the other services' facts on the timeline.
        await eventually(
            lambda: scalar(
                customer,
                "SELECT count(*) >= 1 FROM timeline_entries WHERE customer_id = :c AND kind = 'survey.answered'",
                c=uuid.UUID(cid),
            )
        )
        await eventually(lambda: drained(*services.values()))

        # -- the erasure, through the gateway ------------------------------------------------------
        token = (
            await gw.post("/auth/token", data={"grant_type": "password", "username": "admin", "password": "local"})
        ).json()["access_token"]
        r = await gw.post(
            f"/api/v1/customers/{cid}/erase",
            json={"reason": "art. 17 request"},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert r.status_code == 200, r.text

        async def erased_everywhere() -> bool:
            for app in (sales, desk, billing, notifications):
                if not await scalar(
                    app, "SELECT count(*) FROM known_customers WHERE customer_id = :c AND erased_at IS NOT NULL", c=cid
                ):
                    return False
            return True

        await eventually(erased_everywhere)
        await eventually(lambda: drained(*services.values()))

        left = {name: await hits(app, mark) for name, app in {**services, "gateway": gateway}.items()}
    assert left == {name: {} for name in left}
