"""Known customers only (docs/domain.md §10.2), on real Kafka and PostgreSQL.

1. Sales, the service desk and billing each accept a write naming a customer created a moment ago
   in the customer service (read through with their own client credential at the gateway), and
   refuse an id the customer service does not have (422 naming ``customer_id``).
2. Billing never invoices a customer it does not know: a deal.won for a random id stays without
   invoice; a deal.won that arrives before its customer.created is invoiced once the customer
   arrives; a deal.won with a negative amount is refused at the consumer's door (billing's DLQ),
   and no invoice follows.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from functools import partial
from typing import Any

import httpx
import orjson
from fastapi import FastAPI
from sqlalchemy import func, select

import tessera_billing.main as billing_main
import tessera_customer.main as customer_main
import tessera_gateway.main as gateway_main
import tessera_sales.main as sales_main
import tessera_service_desk.main as desk_main
from tessera_billing.invoices.models import Invoice
from tessera_billing.invoices.pending import PendingDealWon
from tessera_billing.settings import BillingSettings
from tessera_customer.settings import CustomerSettings
from tessera_gateway.settings import GatewaySettings
from tessera_sales.testing import sales_settings
from tessera_service_desk.settings import ServiceDeskSettings
from tessera_shared.events import build_event
from tessera_shared.events.contracts import CustomerCreated, DealWon, LineItem
from tessera_shared.events.envelope import dlq_topic_for, topic_for
from tessera_shared.kafka import make_producer
from tessera_shared.testing.builders import customer_payload
from tessera_shared.testing.kafka import read_topic
from tessera_shared.testing.plugin import bearer, migrations_of, running
from tessera_shared.testing.waiting import eventually

CUSTOMER_URL = "http://customer.test"
GATEWAY_URL = "http://gateway.test"


# The consumers here catch up within 30 s.
eventually = partial(eventually, seconds=30.0)


async def count(app: FastAPI, model: Any, *where: Any) -> int:
    async with app.state.runtime.sessions() as s:
        return int(await s.scalar(select(func.count()).select_from(model).where(*where)))


def deal_won(customer_id: uuid.UUID, amount: str = "500.00") -> DealWon:
    return DealWon(
        deal_id=uuid.uuid4(),
        customer_id=customer_id,
        title="Annual licence",
        amount=Decimal(amount),
        currency="EUR",
        line_items=[LineItem(description="Licence", quantity=Decimal(1), unit_price=Decimal("500.00"))],
        owner_id="rep1",
        won_at=datetime.now(UTC),
    )


async def test_sales_desk_and_billing_read_a_new_customer_through(databases, kafka_bootstrap, namespace) -> None:
    kafka: dict[str, Any] = {
        "kafka_bootstrap": kafka_bootstrap,
        "kafka_topic_namespace": namespace,
        "kafka_partitions": 3,
        "log_json": False,
        "jobs_enabled": False,
        "token_revocations": False,
    }
    upstream: dict[str, Any] = {"customer_url": CUSTOMER_URL, "gateway_url": GATEWAY_URL}

    async def db(name: str, main: Any) -> str:
        return await databases.new(name, "postgres", migrations_of(main.__file__))

    customer = customer_main.create_app(CustomerSettings(database_url=await db("customer", customer_main), **kafka))
    gateway = gateway_main.create_app(
        GatewaySettings(database_url=await db("gateway", gateway_main), log_json=False, token_revocations=False)
    )
    # The services reach the customer service and the gateway's token endpoint in process.
    mounts = {
        f"{CUSTOMER_URL}/": httpx.ASGITransport(app=customer),
        f"{GATEWAY_URL}/": httpx.ASGITransport(app=gateway),
    }
    sales = sales_main.create_app(
        sales_settings(
            await db("sales", sales_main),
            kafka_enabled=True,
            kafka_consumer_group=f"{namespace}sales",
            **upstream,
            **kafka,
        ),
        mounts=mounts,
    )
    desk = desk_main.create_app(
        ServiceDeskSettings(
            database_url=await db("service-desk", desk_main),
            kafka_consumer_group=f"{namespace}service-desk",
            **upstream,
            **kafka,
        ),
        mounts=mounts,
    )
    billing = billing_main.create_app(
        BillingSettings(
            database_url=await db("billing", billing_main),
            kafka_consumer_group=f"{namespace}billing",
            **upstream,
            **kafka,
        ),
        mounts=mounts,
    )
    async with (
        running(customer) as customers,
        gateway.router.lifespan_context(gateway),
        running(sales) as s,
        running(desk) as d,
        running(billing) as b,
    ):
        writes = {
            "sales": lambda cid: s.post(
                "/v1/deals",
                json={"customer_id": cid, "title": "First order", "amount": "100.00", "currency": "EUR"},
                headers=bearer(sales, "rep1", "sales_rep"),
            ),
            "service-desk": lambda cid: d.post(
                "/v1/tickets",
                json={"customer_id": cid, "subject": "Cannot log in", "priority": "normal"},
                headers=bearer(desk, "agent", "support_agent"),
            ),
            "billing": lambda cid: b.post(
                "/v1/invoices",
                json={
                    "customer_id": cid,
                    "currency": "EUR",
                    "lines": [{"description": "Setup", "quantity": "1", "unit_price": "100.00"}],
                },
                headers=bearer(billing, "clerk", "billing_clerk"),
            ),
        }
        for service, write in writes.items():
            # A customer created a moment ago: its customer.created may not have arrived yet.
            r = await customers.post(
                "/v1/customers", json=customer_payload(), headers=bearer(customer, "rep1", "sales_rep")
            )
            assert r.status_code == 201, r.text
            r = await write(r.json()["id"])
            assert r.status_code == 201, (service, r.text)
            r = await write(str(uuid.uuid4()))
            assert r.status_code == 422, (service, r.text)
            assert r.json()["errors"][0]["field"] == "customer_id", service
        # Lead conversion right after the customer's creation, while customer.created flows to
        # sales over Kafka: 20 in a row, every one converts (the read-through and the event merge).
        rep = bearer(sales, "rep1", "sales_rep")
        for n in range(20):
            r = await customers.post(
                "/v1/customers", json=customer_payload(), headers=bearer(customer, "rep1", "sales_rep")
            )
            assert r.status_code == 201, r.text
            lead = (await s.post("/v1/leads", json={"name": f"Lead {n}", "source": "referral"}, headers=rep)).json()
            r = await s.post(f"/v1/leads/{lead['id']}/convert", json={"customer_id": r.json()["id"]}, headers=rep)
            assert r.status_code == 200, (n, r.text)


async def test_billing_invoices_known_customers_only(databases, kafka_bootstrap, namespace) -> None:
    billing = billing_main.create_app(
        BillingSettings(
            database_url=await databases.new("billing", "postgres", migrations_of(billing_main.__file__)),
            kafka_bootstrap=kafka_bootstrap,
            kafka_topic_namespace=namespace,
            kafka_consumer_group=f"{namespace}billing",
            kafka_partitions=3,
            log_json=False,
            jobs_enabled=False,
            token_revocations=False,
        )
    )
    producer = make_producer(kafka_bootstrap, client_id="test")
    nobody, early, negative = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    for_nobody, for_early, below_zero = deal_won(nobody), deal_won(early), deal_won(negative)

    async def send(service: str, envelope: Any, key: uuid.UUID) -> None:
        await producer.send_and_wait(topic_for(service, namespace), envelope, key=str(key).encode())

    async with running(billing):
        await producer.start()
        try:
            await send("sales", build_event(for_nobody, subject=nobody).to_json(), nobody)
            await send("sales", build_event(for_early, subject=early).to_json(), early)
            # A negative amount, as a faulty producer would send it (the contract refuses to build it).
            bad = orjson.loads(build_event(below_zero, subject=negative).to_json())
            bad["data"]["amount"] = "-500.00"
            await send("sales", orjson.dumps(bad), negative)
            await send(
                "customer",
                build_event(
                    CustomerCreated(
                        customer_id=negative, kind="person", name="N", status="prospect", created_at=datetime.now(UTC)
                    ),
                    subject=negative,
                ).to_json(),
                negative,
            )

            async def both_parked() -> bool:
                return await count(billing, PendingDealWon) == 2

            await eventually(both_parked)
            assert await count(billing, Invoice) == 0
            # The early win's customer arrives: its invoice follows, once.
            created = CustomerCreated(
                customer_id=early,
                kind="organization",
                name="Early Ltd",
                status="prospect",
                created_at=datetime.now(UTC),
            )
            for _ in range(2):  # a redelivered announcement invoices nothing more
                await send("customer", build_event(created, subject=early).to_json(), early)
            await eventually(lambda: count(billing, Invoice, Invoice.deal_id == for_early.deal_id))
            dead = await read_topic(kafka_bootstrap, dlq_topic_for("billing", namespace), expect=1)
            assert [orjson.loads(r.value)["data"]["deal_id"] for r in dead] == [str(below_zero.deal_id)]
            await asyncio.sleep(1.0)  # let the redelivery and anything else land
        finally:
            await producer.stop()
        assert await count(billing, Invoice) == 1  # the early customer's only
        assert await count(billing, Invoice, Invoice.customer_id == nobody) == 0
        assert await count(billing, Invoice, Invoice.customer_id == negative) == 0
        assert await count(billing, PendingDealWon) == 1  # the win for nobody stays parked
