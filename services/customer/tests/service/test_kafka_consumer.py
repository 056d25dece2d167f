"""Real Kafka: facts from sales, service-desk and billing land once, even when delivered twice."""

from __future__ import annotations

import asyncio
import uuid

from sqlalchemy import select
from sqlmodel import col

import tessera_customer.main as customer_main
from services.customer.tests.helpers import (
    create,
    deal_won,
    invoice_paid,
    payment,
    survey,
    ticket_opened,
)
from tessera_customer.settings import CustomerSettings
from tessera_customer.timeline.models import TimelineEntry
from tessera_shared.events import build_event
from tessera_shared.kafka import make_producer
from tessera_shared.testing.databases import DatabaseFactory
from tessera_shared.testing.plugin import bearer, migrations_of, running


async def test_consumed_facts_apply_once(databases: DatabaseFactory, kafka_bootstrap: str, namespace: str) -> None:
    url = await databases.new("customer", "postgres", migrations_of(customer_main.__file__))
    app = customer_main.create_app(
        CustomerSettings(
            database_url=url,
            kafka_bootstrap=kafka_bootstrap,
            kafka_topic_namespace=namespace,
            kafka_consumer_group=f"{namespace}customer",
            kafka_partitions=3,
            log_json=False,
            jobs_enabled=False,
        )
    )
    async with running(app) as client:
        c = await create(client, app)
        cid = c["id"]
        deal = deal_won(cid)
        facts = [
            ("sales", deal),
            ("service-desk", ticket_opened(cid)),
            ("service-desk", survey(cid, 2)),
            ("billing", invoice_paid(cid, total="400.00")),
            ("billing", payment(cid, "400.00", invoice_id=uuid.uuid4())),
        ]
        envelopes = [(f"{namespace}crm.{topic}", build_event(data, subject=cid)) for topic, data in facts]
        envelopes.append(envelopes[0])  # the won deal delivered twice
        producer = make_producer(kafka_bootstrap, client_id="test")
        await producer.start()
        try:
            for topic, envelope in envelopes:
                await producer.send_and_wait(topic, envelope.to_json(), key=cid.encode())
        finally:
            await producer.stop()
        runner = app.state.runtime.consumer
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 45
        # Polling to a deadline (ASYNC110): the runner's counters have no event to wait on.
        while runner.applied + runner.duplicates < len(envelopes) and loop.time() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.1)
        assert (runner.applied, runner.duplicates, runner.dead_lettered) == (5, 1, 0)
        h = bearer(app, "a", "admin")
        got = (await client.get(f"/v1/customers/{cid}", headers=h)).json()
        # Three distinct purchases (the deal, an invoice, a payment for another invoice) reach loyal (N=3).
        assert got["value"]["purchase_count"] == 3
        assert got["status"] == "loyal"
        assert got["value"]["lifetime_values"] == {"EUR": "400.00"}
        assert (await client.get(f"/v1/customers/{cid}/loyalty", headers=h)).json()["balance"] == 400
        async with app.state.runtime.sessions() as s:
            kinds = sorted(
                (await s.scalars(select(col(TimelineEntry.kind)).where(col(TimelineEntry.source) != "customer"))).all()
            )
        assert kinds == ["deal.won", "invoice.paid", "payment.received", "survey.answered", "ticket.opened"]
