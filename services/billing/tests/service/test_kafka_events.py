"""Over real Kafka: deal.won delivered twice makes one invoice; a billing dispute pauses and resumes dunning."""

from __future__ import annotations

import asyncio
import uuid
from decimal import Decimal

from billing_helpers import clerk, closed, customer_created, deal_won, dispute, run
from fastapi import FastAPI

import tessera_billing.main as billing_main
from tessera_billing.settings import BillingSettings
from tessera_shared.events import build_event
from tessera_shared.events.envelope import EventData
from tessera_shared.kafka import make_producer
from tessera_shared.testing.plugin import migrations_of, running


async def consumed(app: FastAPI, total: int, timeout: float = 30) -> None:
    runner = app.state.runtime.consumer
    deadline = asyncio.get_running_loop().time() + timeout
    while runner.applied + runner.duplicates < total:
        assert asyncio.get_running_loop().time() < deadline, (runner.applied, runner.duplicates)
        await asyncio.sleep(0.05)


async def test_deal_won_twice_and_dispute_over_kafka(databases, backend, kafka_bootstrap, namespace) -> None:
    url = await databases.new("billing", backend, migrations_of(billing_main.__file__))
    app = billing_main.create_app(
        BillingSettings(
            database_url=url,
            kafka_bootstrap=kafka_bootstrap,
            kafka_topic_namespace=namespace,
            kafka_consumer_group=f"{namespace}billing",
            kafka_partitions=3,
            log_json=False,
            jobs_enabled=False,
            default_credit_limit=Decimal("5000.00"),
        )
    )
    customer_id = uuid.uuid4()
    producer = make_producer(kafka_bootstrap, client_id="test")

    async def send(topic: str, data: EventData) -> None:
        envelope = build_event(data, subject=customer_id)
        await producer.send_and_wait(f"{namespace}{topic}", envelope.to_json(), key=str(customer_id).encode())

    async with running(app) as client:
        await producer.start()
        try:
            await send("crm.customer", customer_created(customer_id))  # billing invoices known customers only
            await consumed(app, 1)
            won = build_event(deal_won(customer_id), subject=customer_id)
            for _ in range(2):  # the same event delivered twice
                await producer.send_and_wait(f"{namespace}crm.sales", won.to_json(), key=str(customer_id).encode())
            await consumed(app, 3)
            assert (app.state.runtime.consumer.applied, app.state.runtime.consumer.duplicates) == (2, 1)
            r = await client.get("/v1/invoices", params={"customer_id": str(customer_id)}, headers=clerk(app))
            [invoice] = r.json()["items"]  # due 2026-03-31
            ticket = uuid.uuid4()
            await send("crm.service-desk", dispute(ticket, customer_id, invoice["id"]))
            await consumed(app, 4)
            assert (await run(app, client, "2026-04-20"))["dunning_steps"] == 0
            await send("crm.service-desk", closed(ticket, customer_id, invoice["id"]))
            await consumed(app, 5)
            assert (await run(app, client, "2026-04-21"))["dunning_steps"] == 1
        finally:
            await producer.stop()
