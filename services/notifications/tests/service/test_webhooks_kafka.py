"""Real Kafka to a real receiver: a won deal on crm.sales reaches an admin's endpoint signed,
byte for byte what Kafka carries, once though sent twice, quickly; a replay of the last hour
sends it again, marked as a replay."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import orjson
from standardwebhooks import Webhook
from webhook_receiver import receiving

import tessera_notifications.main as notifications_main
from tessera_notifications.settings import NotificationsSettings
from tessera_shared.events import build_event
from tessera_shared.events.contracts import DealWon
from tessera_shared.kafka import make_producer
from tessera_shared.testing.kafka import read_topic
from tessera_shared.testing.plugin import bearer, migrations_of, running

ENDPOINTS = "/v1/webhooks/endpoints"


def deal_won() -> DealWon:
    return DealWon(
        deal_id=uuid.uuid4(),
        customer_id=uuid.uuid4(),
        title="Big one",
        amount=Decimal("1200.50"),
        currency="EUR",
        line_items=[],
        owner_id="rep1",
        won_at=datetime.now(UTC),
    )


async def test_a_won_deal_reaches_the_partner_signed_once_and_a_replay_sends_it_again(
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
    # An admin's endpoint: its deliveries carry the envelope byte for byte (a partner's carry it
    # redacted: test_webhooks_redaction).
    partner = bearer(app, "ops", "admin")
    async with receiving() as receiver, running(app) as client:
        r = await client.post(ENDPOINTS, json={"url": receiver.url, "event_types": ["deal.won"]}, headers=partner)
        endpoint = r.json()
        await asyncio.wait_for(app.state.runtime.consumer.assigned.wait(), 30)
        producer = make_producer(kafka_bootstrap, client_id="test")
        await producer.start()
        latencies: list[float] = []
        try:
            data = deal_won()
            envelope = build_event(data, subject=data.customer_id)
            for _ in range(2):  # a redelivery: the same envelope twice
                await producer.send_and_wait(
                    f"{namespace}crm.sales", envelope.to_json(), key=str(data.customer_id).encode()
                )
            first = (await receiver.wait_for(1, timeout=30))[0]
            # Idle latency: committed on Kafka -> received, one event at a time.
            for _ in range(30):
                more = deal_won()
                count = len(receiver.received)
                started = time.monotonic()
                await producer.send_and_wait(
                    f"{namespace}crm.sales",
                    build_event(more, subject=more.customer_id).to_json(),
                    key=str(more.customer_id).encode(),
                )
                await receiver.wait_for(count + 1, timeout=10)
                latencies.append(receiver.received[count].at - started)
        finally:
            await producer.stop()
        records = await read_topic(kafka_bootstrap, f"{namespace}crm.sales", expect=32)

        assert Webhook(endpoint["secret"]).verify(first.body, first.headers)["id"] == envelope.id
        assert first.body == records[0].value or first.body in {r.value for r in records}
        assert first.headers["content-type"] == "application/cloudevents+json"
        await asyncio.sleep(0.5)
        ids = [orjson.loads(g.body)["id"] for g in receiver.received]
        assert ids.count(envelope.id) == 1  # sent twice on Kafka, delivered once
        # Every body is the message's bytes.
        values = {r.value for r in records}
        assert all(g.body in values for g in receiver.received)
        latencies.sort()
        p50, p99 = latencies[len(latencies) // 2], latencies[-1]
        print(f"webhook idle latency: p50 {p50 * 1000:.0f} ms, max {p99 * 1000:.0f} ms over {len(latencies)}")
        assert p50 < 0.3

        before = len(receiver.received)
        r = await client.post(
            f"{ENDPOINTS}/{endpoint['id']}/replay",
            json={"from": (datetime.now(UTC) - timedelta(hours=1)).isoformat()},
            headers=partner,
        )
        assert r.status_code == 202, r.text
        location = r.headers["Location"]
        replayed = (await receiver.wait_for(before + 31, timeout=30))[before:]
        again = [g for g in replayed if orjson.loads(g.body)["id"] == envelope.id]
        assert len(again) == 1 and again[0].headers["webhook-replay"] == "true"
        assert again[0].headers["webhook-id"] != first.headers["webhook-id"]
        assert again[0].body == first.body
        assert Webhook(endpoint["secret"]).verify(again[0].body, again[0].headers)["id"] == envelope.id
        job = (await client.get(location.removeprefix("/api"), headers=partner)).json()
        assert (job["status"], job["enqueued"]) == ("done", 31)
        page = (
            await client.get(f"{ENDPOINTS}/{endpoint['id']}/deliveries", params={"limit": 200}, headers=partner)
        ).json()
        assert sum(d["replay"] for d in page["items"]) == 31
