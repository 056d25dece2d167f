"""Real Kafka: the desk consumes the customer facts it needs (once each) and publishes its own."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import orjson
from desk_helpers import agent, open_ticket, patch
from fastapi import FastAPI
from sqlalchemy import select
from sqlmodel import col

import tessera_service_desk.main as desk_main
from tessera_service_desk.known_customers.models import KnownCustomer
from tessera_service_desk.settings import ServiceDeskSettings
from tessera_service_desk.surveys.models import Survey
from tessera_service_desk.tickets.models import Ticket, TicketComment
from tessera_shared.events import build_event
from tessera_shared.events.contracts import CustomerCreated, CustomerErased, CustomerMerged, CustomerTierChanged
from tessera_shared.events.envelope import EventData
from tessera_shared.kafka import make_producer
from tessera_shared.testing.customers import StubCustomers
from tessera_shared.testing.databases import DatabaseFactory
from tessera_shared.testing.kafka import read_topic
from tessera_shared.testing.plugin import migrations_of, running


async def kafka_app(databases: DatabaseFactory, backend: str, kafka: str, namespace: str) -> FastAPI:
    url = await databases.new("service-desk", backend, migrations_of(desk_main.__file__))
    app = desk_main.create_app(
        ServiceDeskSettings(
            database_url=url,
            kafka_bootstrap=kafka,
            kafka_topic_namespace=namespace,
            kafka_consumer_group=f"{namespace}service-desk",
            kafka_partitions=3,
            log_json=False,
            jobs_enabled=False,
        )
    )
    app.state.customer_directory = StubCustomers()  # tickets name customers not announced yet
    return app


async def send_all(kafka: str, topic: str, facts: list[tuple[EventData, uuid.UUID, int]]) -> int:
    """Each fact sent ``times`` times (the same envelope: a redelivery); returns messages sent."""
    producer = make_producer(kafka, client_id="test")
    await producer.start()
    sent = 0
    try:
        for data, subject, times in facts:
            envelope = build_event(data, subject=subject)
            for _ in range(times):
                await producer.send_and_wait(topic, envelope.to_json(), key=str(subject).encode())
                sent += 1
    finally:
        await producer.stop()
    return sent


async def test_customer_facts_are_applied_once_and_desk_facts_published(
    databases, backend, kafka_bootstrap, namespace
) -> None:
    app = await kafka_app(databases, backend, kafka_bootstrap, namespace)
    keeper, merged, erased = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    now = datetime.now(UTC)
    async with running(app) as client:
        kept_ticket = await open_ticket(client, app, customer_id=str(keeper), priority="high")
        merged_ticket = await open_ticket(client, app, customer_id=str(merged))
        erased_ticket = await open_ticket(client, app, customer_id=str(erased), subject="Jane Roe, 5 Elm St")
        await client.post(
            f"/v1/tickets/{erased_ticket['id']}/comments", json={"body": "Call me on 555-0100"}, headers=agent(app)
        )
        closed = (await patch(client, app, erased_ticket["id"], status="closed")).json()
        path, token = closed["survey_url"].split("?token=")
        await client.post(
            f"{path.removeprefix('/api')}/answer",
            params={"token": token},
            json={"csat": 2, "comment": "Jane was upset"},
        )

        tier = CustomerTierChanged(
            customer_id=keeper,
            from_tier="ordinary",
            to_tier="key",
            lifetime_value=Decimal("90000"),
            currency="EUR",
            changed_at=now,
        )
        stale_tier = CustomerTierChanged(
            customer_id=keeper,
            from_tier="small",
            to_tier="small",
            lifetime_value=Decimal("10"),
            currency="EUR",
            changed_at=now - timedelta(days=1),
        )
        sent = await send_all(
            kafka_bootstrap,
            f"{namespace}crm.customer",
            [
                (
                    CustomerCreated(
                        customer_id=keeper, kind="organization", name="Acme", status="prospect", created_at=now
                    ),
                    keeper,
                    2,
                ),
                (tier, keeper, 2),
                (stale_tier, keeper, 1),  # an older announcement arriving late changes nothing
                (CustomerMerged(survivor_id=keeper, merged_id=merged, actor="admin", merged_at=now), merged, 2),
                (CustomerErased(customer_id=erased, requested_by="dpo", erased_at=now), erased, 2),
            ],
        )
        runner = app.state.runtime.consumer
        deadline = asyncio.get_running_loop().time() + 30
        while runner.applied + runner.duplicates < sent and asyncio.get_running_loop().time() < deadline:  # noqa: ASYNC110 - the consumer exposes counters, no event
            await asyncio.sleep(0.05)
        assert (runner.applied, runner.duplicates) == (5, 4)

        async with app.state.runtime.sessions() as s:
            known = await s.get(KnownCustomer, keeper)
            assert (known.name, known.tier) == ("Acme", "key")
            assert (await s.get(KnownCustomer, merged)).merged_into == keeper
            kept = await s.get(Ticket, uuid.UUID(kept_ticket["id"]))
            assert (kept.tier, kept.version) == ("key", 2)  # re-tiered once
            assert (await s.get(Ticket, uuid.UUID(merged_ticket["id"]))).customer_id == keeper
            gone = await s.get(Ticket, uuid.UUID(erased_ticket["id"]))
            assert (gone.subject, gone.description, gone.category) == ("[erased]", "", "inquiry")
            bodies = (
                await s.execute(select(col(TicketComment.body)).where(col(TicketComment.ticket_id) == gone.id))
            ).scalars()
            assert set(bodies) == {"[erased]"}
            survey = (await s.execute(select(Survey).where(col(Survey.ticket_id) == gone.id))).scalar_one()
            assert (survey.comment, survey.csat) == (None, 2)  # the score stays for the reports

        records = await read_topic(kafka_bootstrap, f"{namespace}crm.service-desk", expect=7)
        published = sorted((orjson.loads(r.value)["type"], r.key.decode()) for r in records)
        assert published == sorted(
            [
                ("ticket.opened", str(keeper)),
                ("ticket.opened", str(merged)),
                ("ticket.opened", str(erased)),
                ("ticket.commented", str(erased)),  # the agent's reply, without its text
                ("ticket.updated", str(erased)),  # which opened the ticket
                ("ticket.closed", str(erased)),
                ("survey.answered", str(erased)),
            ]
        )
