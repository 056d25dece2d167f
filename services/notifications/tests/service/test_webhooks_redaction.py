"""A partner's endpoint receives events without personal data (the fields the contracts mark
Personal arrive null; the envelope says ``redaction: personal``), signed over what it receives; an
admin's endpoint receives the envelope as Kafka carries it. The enabled endpoints are read at most
once a second per process, and a change through this process is seen at once."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from notifications_helpers import deliver, make_app
from sqlalchemy import event as sa_event
from standardwebhooks import Webhook
from webhook_receiver import receiving

import tessera_notifications.main as notifications_main
from tessera_notifications.settings import NotificationsSettings
from tessera_shared.events import build_event
from tessera_shared.events.contracts import CustomerCreated
from tessera_shared.kafka import make_producer
from tessera_shared.testing.kafka import read_topic
from tessera_shared.testing.plugin import bearer, migrations_of, running

ENDPOINTS = "/v1/webhooks/endpoints"
EMAIL = "ada.lovelace@example.com"


def customer_created() -> CustomerCreated:
    return CustomerCreated(
        customer_id=uuid.uuid4(),
        kind="person",
        name="Ada Lovelace",
        email=EMAIL,
        owner_id="rep1",
        status="prospect",
        created_at=datetime.now(UTC),
    )


def check_redacted(body: bytes, kafka_body: bytes) -> None:
    got, sent = orjson.loads(body), orjson.loads(kafka_body)
    assert EMAIL.encode() not in body and b"Lovelace" not in body
    assert got["redaction"] == "personal"
    # The custom field values travel as one object a personal field may be in: null as a whole.
    personal = ("email", "name", "custom_fields")
    assert [got["data"][k] for k in personal] == [None, None, None]
    # Everything else as sent: the envelope's attributes and the data's other fields.
    assert {k: v for k, v in got.items() if k not in ("data", "redaction")} == {
        k: v for k, v in sent.items() if k != "data"
    }
    assert {k: v for k, v in got["data"].items() if k not in personal} == {
        k: v for k, v in sent["data"].items() if k not in personal
    }


@pytest.mark.sqlite
async def test_a_partner_endpoint_gets_customer_created_without_personal_data_and_an_admin_endpoint_with_it(
    databases, backend
) -> None:
    app = await make_app(databases, backend, webhook_worker_enabled=False)
    partner = bearer(app, "acme", "partner", kind="client")
    admin = bearer(app, "ops", "admin")
    async with receiving() as for_partner, receiving() as for_admin, running(app) as client:
        r = await client.post(
            ENDPOINTS, json={"url": for_partner.url, "event_types": ["customer.created"]}, headers=partner
        )
        assert r.status_code == 201, r.text
        partner_endpoint = r.json()
        admin_endpoint = (
            await client.post(ENDPOINTS, json={"url": for_admin.url, "event_types": ["*"]}, headers=admin)
        ).json()
        assert (partner_endpoint["personal_data"], admin_endpoint["personal_data"]) == (False, True)

        event = await deliver(app, customer_created(), subject=None)
        assert await app.state.webhooks.run_once() == 2
        (to_partner,) = await for_partner.wait_for(1)
        (to_admin,) = await for_admin.wait_for(1)

        assert to_admin.body == event.to_json()  # the bytes Kafka carries
        assert orjson.loads(to_admin.body)["data"]["email"] == EMAIL
        check_redacted(to_partner.body, event.to_json())
        # The signature covers what the partner received.
        assert Webhook(partner_endpoint["secret"]).verify(to_partner.body, to_partner.headers)["id"] == event.id
        found = (await client.get(f"{ENDPOINTS}/{partner_endpoint['id']}", headers=partner)).json()
        assert found["personal_data"] is False


@pytest.mark.sqlite
async def test_the_enabled_endpoints_are_read_once_a_second_and_a_change_here_is_seen_at_once(
    databases, backend
) -> None:
    app = await make_app(databases, backend, webhook_worker_enabled=False)
    admin = bearer(app, "ops", "admin")
    async with receiving() as receiver, running(app) as client:
        endpoint = (
            await client.post(ENDPOINTS, json={"url": receiver.url, "event_types": ["customer.created"]}, headers=admin)
        ).json()
        async with app.state.runtime.sessions() as session:
            engine = session.get_bind()
        reads: list[str] = []

        def count(conn, cursor, statement, parameters, context, executemany):
            if statement.lstrip().upper().startswith("SELECT") and "webhook_endpoints" in statement:
                reads.append(statement)

        sa_event.listen(engine, "before_cursor_execute", count)
        try:
            for _ in range(5):
                await deliver(app, customer_created())
            assert len(reads) == 1  # five events, one read
            assert await app.state.webhooks.run_once() == 5

            # Paused through this process: the next event is not fanned out to it, at once.
            r = await client.patch(f"{ENDPOINTS}/{endpoint['id']}", json={"enabled": False}, headers=admin)
            assert r.json()["enabled"] is False
            await deliver(app, customer_created())
            assert await app.state.webhooks.run_once() == 0
            r = await client.patch(f"{ENDPOINTS}/{endpoint['id']}", json={"enabled": True}, headers=admin)
            await deliver(app, customer_created())
            assert await app.state.webhooks.run_once() == 1
            reads.clear()
            # And read again once the TTL has passed (a change through another replica).
            await asyncio.sleep(1.1)
            await deliver(app, customer_created())
            assert len(reads) == 1
        finally:
            sa_event.remove(engine, "before_cursor_execute", count)


async def test_through_kafka_a_partner_gets_the_redacted_event_and_a_replay_of_it(
    databases, backend, kafka_bootstrap, namespace
) -> None:
    url = await databases.new("notifications", backend, migrations_of(notifications_main.__file__))
    app = notifications_main.create_app(
        NotificationsSettings(
            database_url=url,
            kafka_bootstrap=kafka_bootstrap,
            kafka_topic_namespace=namespace,
            kafka_consumer_group=f"{namespace}notifications",
            kafka_partitions=3,
            log_json=False,
            jobs_enabled=False,
        )
    )
    partner = bearer(app, "acme", "partner", kind="client")
    admin = bearer(app, "ops", "admin")
    async with receiving() as for_partner, receiving() as for_admin, running(app) as client:
        partner_endpoint = (
            await client.post(
                ENDPOINTS, json={"url": for_partner.url, "event_types": ["customer.created"]}, headers=partner
            )
        ).json()
        await client.post(ENDPOINTS, json={"url": for_admin.url, "event_types": ["customer.created"]}, headers=admin)
        await asyncio.wait_for(app.state.runtime.consumer.assigned.wait(), 30)
        data = customer_created()
        producer = make_producer(kafka_bootstrap, client_id="test")
        await producer.start()
        try:
            await producer.send_and_wait(
                f"{namespace}crm.customer",
                build_event(data, subject=data.customer_id).to_json(),
                key=str(data.customer_id).encode(),
            )
        finally:
            await producer.stop()
        (record,) = await read_topic(kafka_bootstrap, f"{namespace}crm.customer", expect=1)
        (to_partner,) = await for_partner.wait_for(1, timeout=30)
        (to_admin,) = await for_admin.wait_for(1, timeout=30)
        assert to_admin.body == record.value
        check_redacted(to_partner.body, record.value)
        assert Webhook(partner_endpoint["secret"]).verify(to_partner.body, to_partner.headers)

        r = await client.post(
            f"{ENDPOINTS}/{partner_endpoint['id']}/replay",
            json={"from": (datetime.now(UTC) - timedelta(hours=1)).isoformat()},
            headers=partner,
        )
        assert r.status_code == 202, r.text
        replayed = (await for_partner.wait_for(2, timeout=30))[1]
        assert replayed.headers["webhook-replay"] == "true"
        assert replayed.body == to_partner.body  # redacted the same way
        assert EMAIL.encode() not in replayed.body
