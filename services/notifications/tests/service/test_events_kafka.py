"""Real Kafka: a deal.large_detected on crm.sales lands in a sales manager's inbox (once, though
sent twice), visible within the latency budget, and notification.sent is published on
crm.notifications through the outbox."""

from __future__ import annotations

import asyncio
import time

import orjson
from notifications_helpers import large_deal, user

import tessera_notifications.main as notifications_main
from tessera_notifications.settings import NotificationsSettings
from tessera_shared.events import build_event
from tessera_shared.kafka import make_producer
from tessera_shared.testing.kafka import read_topic
from tessera_shared.testing.plugin import migrations_of, running


async def test_a_large_deal_on_the_topic_reaches_the_managers_inbox(
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
    data = large_deal()
    envelope = build_event(data, subject=data.customer_id)
    manager = user(app, "manager", "sales_manager")
    async with running(app) as client:
        producer = make_producer(kafka_bootstrap, client_id="test")
        await producer.start()
        try:
            for _ in range(2):  # a redelivery: the same envelope twice
                await producer.send_and_wait(
                    f"{namespace}crm.sales", envelope.to_json(), key=str(data.customer_id).encode()
                )
        finally:
            await producer.stop()
        sent_at = time.monotonic()
        items: list[dict] = []
        while time.monotonic() - sent_at < 30 and not items:
            items = (await client.get("/v1/notifications", headers=manager)).json()["items"]
            if not items:
                await asyncio.sleep(0.02)
        assert [n["type"] for n in items] == ["deal.large_detected"]
        assert items[0]["link"] == f"/api/v1/deals/{data.deal_id}"
        runner = app.state.runtime.consumer
        deadline = time.monotonic() + 10
        while runner.applied + runner.duplicates < 2 and time.monotonic() < deadline:  # noqa: ASYNC110 - counters, no event
            await asyncio.sleep(0.05)
        assert (runner.applied, runner.duplicates) == (1, 1)
        assert len((await client.get("/v1/notifications", headers=manager)).json()["items"]) == 1

        records = await read_topic(kafka_bootstrap, f"{namespace}crm.notifications", expect=1)
    facts = [orjson.loads(r.value) for r in records]
    assert [(f["type"], f["data"]["recipient"], f["data"]["source_event_id"]) for f in facts] == [
        ("notification.sent", "manager", envelope.id)
    ]
    assert facts[0]["data"]["notification_id"] == items[0]["id"]
