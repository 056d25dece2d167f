"""Loyalty that pays (docs/domain.md §10.5) across the customer service and billing, on real Kafka
and PostgreSQL: a paid invoice lifts the customer to gold, billing hears the level and takes the
gold discount off the invoice of a won deal; points pay part of that invoice (asked by billing,
redeemed by the customer service, recorded by billing); the void gives them back."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from aiokafka import AIOKafkaProducer

import tessera_billing.main as billing_main
import tessera_customer.main as customer_main
from tessera_billing.loyalty.models import MemberLevel
from tessera_billing.settings import BillingSettings
from tessera_customer.settings import CustomerSettings
from tessera_shared.events import build_event
from tessera_shared.events.contracts import DealWon, LineItem
from tessera_shared.events.envelope import topic_for
from tessera_shared.testing.builders import customer_payload
from tessera_shared.testing.plugin import bearer, migrations_of, running


async def eventually(probe: Callable[[], Awaitable[Any]], what: str, seconds: float = 30) -> Any:
    for _ in range(int(seconds / 0.1)):
        if (value := await probe()) is not None:
            return value
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


async def test_a_gold_customers_deal_invoice_is_discounted_and_points_pay(
    databases, kafka_bootstrap, namespace
) -> None:
    kafka = {
        "kafka_bootstrap": kafka_bootstrap,
        "kafka_topic_namespace": namespace,
        "kafka_partitions": 3,
        "log_json": False,
        "jobs_enabled": False,
    }
    customer = customer_main.create_app(
        CustomerSettings(
            database_url=await databases.new("customer", "postgres", migrations_of(customer_main.__file__)),
            kafka_consumer_group=f"{namespace}customer",
            **kafka,
        )
    )
    billing = billing_main.create_app(
        BillingSettings(
            database_url=await databases.new("billing", "postgres", migrations_of(billing_main.__file__)),
            kafka_consumer_group=f"{namespace}billing",
            **kafka,
        )
    )
    async with running(customer) as crm, running(billing) as bill:
        admin = bearer(customer, "a", "admin")
        clerk = bearer(billing, "clerk", "billing_clerk")
        r = await crm.post("/v1/customers", json=customer_payload(), headers=admin)
        assert r.status_code == 201, r.text
        cid = r.json()["id"]

        async def known_to_billing() -> bool | None:
            r = await bill.get(f"/v1/credit/{cid}", headers=clerk)
            return True if r.status_code == 200 and r.json().get("customer_name") else None

        await eventually(known_to_billing, "customer.created in billing")

        # 1200.00 paid: 1200 points, gold (1000) with 5 %.
        r = await bill.post(
            "/v1/invoices",
            json={
                "customer_id": cid,
                "currency": "EUR",
                "issue": True,
                "lines": [{"description": "Onboarding", "quantity": "1", "unit_price": "1200.00"}],
            },
            headers=clerk,
        )
        assert r.status_code == 201, r.text
        first = r.json()
        r = await bill.post(
            "/v1/payments",
            json={"invoice_id": first["id"], "amount": "1200.00", "currency": "EUR", "method": "card"},
            headers=clerk,
        )
        assert r.status_code == 201, r.text

        async def gold() -> dict | None:
            account = (await crm.get(f"/v1/customers/{cid}/loyalty", headers=admin)).json()
            return account if account["level"] == "gold" else None

        assert (await eventually(gold, "gold in the customer service"))["balance"] == 1200

        # sales announces the won deal (as its relay would), once billing knows the level.

        deal = DealWon(
            deal_id=uuid.uuid4(),
            customer_id=uuid.UUID(cid),
            title="Expansion",
            amount=Decimal("1000.00"),
            currency="EUR",
            line_items=[
                LineItem(
                    description="Seats",
                    quantity=Decimal(10),
                    unit_price=Decimal("100.00"),
                    tax_rate_percent=Decimal(19),
                )
            ],
            owner_id="rep1",
            won_at=datetime.now(UTC),
        )

        async def level_known() -> bool | None:
            async with billing.state.runtime.sessions() as s:
                from_db = await s.get(MemberLevel, uuid.UUID(cid))
            return True if from_db is not None else None

        await eventually(level_known, "loyalty.level_changed in billing")
        producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, enable_idempotence=True, acks="all")
        await producer.start()
        try:
            await producer.send_and_wait(
                topic_for("sales", namespace),
                key=cid.encode(),
                value=build_event(deal, subject=cid).to_json(),
                headers=[("content-type", b"application/cloudevents+json")],
            )
        finally:
            await producer.stop()

        async def deal_invoice() -> dict | None:
            r = await bill.get("/v1/invoices", params={"deal_id": str(deal.deal_id)}, headers=clerk)
            items = r.json()["items"]
            return (await bill.get(f"/v1/invoices/{items[0]['id']}", headers=clerk)).json() if items else None

        invoice = await eventually(deal_invoice, "the deal's invoice")
        assert [(x["description"], x["net_amount"], x["member_discount_percent"]) for x in invoice["lines"]] == [
            ("Seats", "1000.00", None),
            ("Gold member discount 5%", "-50.00", "5"),
        ]
        assert (invoice["subtotal"], invoice["tax_total"], invoice["total"]) == ("950.00", "180.50", "1130.50")

        # 1000 points pay 10.00 of it: billing asks, the customer service redeems, billing records.
        r = await bill.post(f"/v1/invoices/{invoice['id']}/loyalty-payments", json={"points": 1000}, headers=clerk)
        assert r.status_code == 202, r.text
        request_id = r.json()["id"]

        async def decided(status: str) -> Callable[[], Awaitable[dict | None]]:
            async def probe() -> dict | None:
                got = (await bill.get(f"/v1/loyalty-payments/{request_id}", headers=clerk)).json()
                return got if got["status"] == status else None

            return probe

        applied = await eventually(await decided("applied"), "the points payment applied")
        assert applied["balance_after"] == 200
        paid = (await bill.get(f"/v1/invoices/{invoice['id']}", headers=clerk)).json()
        assert (paid["status"], paid["balance_due"]) == ("partially_paid", "1120.50")

        # Voided: the payment is reversed and the points come back.
        r = await bill.post(f"/v1/invoices/{invoice['id']}/void", headers=clerk)
        assert r.status_code == 200, r.text

        async def restored() -> dict | None:
            account = (await crm.get(f"/v1/customers/{cid}/loyalty", headers=admin)).json()
            return account if account["balance"] == 1200 else None

        await eventually(restored, "the points given back")
        entries = (await crm.get(f"/v1/customers/{cid}/loyalty/entries", headers=admin)).json()["items"]
        assert [(e["kind"], e["points"]) for e in entries] == [("restore", 1000), ("redeem", -1000), ("earn", 1200)]

        # Points are no money received: an invoice of 100.00 paid 5.00 with points and 95.00 by card
        # earns 95 points and adds 95.00 to the lifetime value.
        r = await bill.post(
            "/v1/invoices",
            json={
                "customer_id": cid,
                "currency": "EUR",
                "issue": True,
                "lines": [{"description": "Support", "quantity": "1", "unit_price": "100.00"}],
            },
            headers=clerk,
        )
        assert r.status_code == 201, r.text
        third = r.json()
        r = await bill.post(f"/v1/invoices/{third['id']}/loyalty-payments", json={"points": 500}, headers=clerk)
        assert r.status_code == 202, r.text
        request_id = r.json()["id"]
        await eventually(await decided("applied"), "the second points payment applied")
        r = await bill.post(
            "/v1/payments",
            json={"invoice_id": third["id"], "amount": "95.00", "currency": "EUR", "method": "card"},
            headers=clerk,
        )
        assert r.status_code == 201, r.text

        async def earned() -> dict | None:
            account = (await crm.get(f"/v1/customers/{cid}/loyalty", headers=admin)).json()
            return account if account["earned_total"] != 1200 else None

        account = await eventually(earned, "points earned on the third invoice")
        assert (account["earned_total"], account["balance"]) == (1295, 1200 - 500 + 95)
        value = (await crm.get(f"/v1/customers/{cid}", headers=admin)).json()["value"]
        assert value["lifetime_values"] == {"EUR": "1295.00"}
