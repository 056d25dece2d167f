"""Real Kafka: billing's and customer's facts arrive (duplicates included) and drive the credit hold end to end."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal

import orjson

import tessera_sales.main as sales_main
from tessera_sales.activities.models import Activity
from tessera_sales.credit.models import CollectedPayment, OverdueInvoice
from tessera_sales.testing import Api, deal_payload, overdue_event, sales_settings
from tessera_shared.events import build_event
from tessera_shared.events.contracts import (
    Allocation,
    CustomerCreated,
    DunningStep,
    InvoicePaid,
    PaymentReceived,
)
from tessera_shared.kafka import make_producer
from tessera_shared.testing.customers import StubCustomers
from tessera_shared.testing.kafka import read_topic
from tessera_shared.testing.plugin import migrations_of, running


async def wait_for(predicate, timeout: float = 30) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await predicate():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.1)


async def test_billing_facts_drive_credit_hold_collections_and_cash(databases, kafka_bootstrap, namespace) -> None:
    url = await databases.new("sales", "postgres", migrations_of(sales_main.__file__))
    app = sales_main.create_app(
        sales_settings(
            url,
            kafka_enabled=True,
            kafka_bootstrap=kafka_bootstrap,
            kafka_topic_namespace=namespace,
            kafka_consumer_group=f"{namespace}sales",
            kafka_partitions=1,
        )
    )
    app.state.customer_directory = StubCustomers()  # deals name customers not announced here
    producer = make_producer(kafka_bootstrap, client_id="test")
    async with running(app) as client:
        api = Api(app, client)
        await producer.start()

        async def send(topic: str, data, times: int = 1) -> None:
            envelope = build_event(data, subject=data.customer_id)
            for _ in range(times):
                await producer.send_and_wait(
                    f"{namespace}crm.{topic}", envelope.to_json(), key=str(data.customer_id).encode()
                )

        try:
            customer = uuid.uuid4()
            await send(
                "customer",
                CustomerCreated(
                    customer_id=customer,
                    kind="person",
                    name="C",
                    owner_id="rep1",
                    status="prospect",
                    created_at=datetime.now(UTC),
                ),
            )
            await api.credit_known(customer)  # billing announced the customer's credit profile
            r = await client.post("/v1/deals", json=deal_payload(customer_id=str(customer)), headers=api.rep1)
            deal = r.json()
            overdue = overdue_event(customer, deal_id=uuid.UUID(deal["id"]), amount="300.00")
            await send("billing", overdue, times=2)
            await send(
                "billing",
                DunningStep(
                    invoice_id=overdue.invoice_id,
                    number="INV-1",
                    customer_id=customer,
                    step=1,
                    days_overdue=1,
                    action="reminder",
                    amount_due=Decimal("300.00"),
                    currency="EUR",
                    occurred_at=datetime.now(UTC),
                ),
                times=2,
            )
            runner = app.state.runtime.consumer

            async def settled(n: int):
                return runner.applied + runner.duplicates >= n

            await wait_for(lambda: settled(5))
            assert (runner.applied, runner.duplicates) == (3, 2)
            assert await api.count(Activity) == 2  # one collection task per step, not per delivery
            r = await client.post(f"/v1/deals/{deal['id']}/win", headers=api.rep1)
            assert r.status_code == 409 and r.json()["type"] == "urn:tessera:problem:credit-hold"

            payment = PaymentReceived(
                payment_id=uuid.uuid4(),
                customer_id=customer,
                amount=Decimal("300.00"),
                currency="EUR",
                method="transfer",
                received_on=date(2026, 4, 1),
                unallocated=Decimal(0),
                received_at=datetime.now(UTC),
                allocations=[
                    Allocation(invoice_id=overdue.invoice_id, deal_id=uuid.UUID(deal["id"]), amount=Decimal("300.00"))
                ],
            )
            await send("billing", payment, times=2)
            await send(
                "billing",
                InvoicePaid(
                    invoice_id=overdue.invoice_id,
                    number="INV-1",
                    customer_id=customer,
                    deal_id=uuid.UUID(deal["id"]),
                    total=Decimal("300.00"),
                    currency="EUR",
                    paid_at=datetime.now(UTC),
                ),
            )
            await wait_for(lambda: settled(8))
            assert (runner.applied, runner.duplicates) == (5, 3)
            assert await api.count(OverdueInvoice) == 0
            assert await api.count(CollectedPayment) == 1
            r = await client.post(f"/v1/deals/{deal['id']}/win", headers=api.rep1)
            assert r.status_code == 200, r.text
            records = await read_topic(kafka_bootstrap, f"{namespace}crm.sales", expect=5)
            types = [orjson.loads(rec.value)["type"] for rec in records]
            assert types.count("deal.won") == 1 and types.count("activity.logged") == 2
            assert all(rec.key.decode() == str(customer) for rec in records)
        finally:
            await producer.stop()
