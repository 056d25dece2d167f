"""A customer batch upsert on the real broker: the topic carries one customer.created per created
input and one customer.updated per changed one, nothing for the unchanged or failed ones, and
an idempotent replay adds nothing."""

from __future__ import annotations

import asyncio

import orjson

import tessera_customer.main as customer_main
from tessera_customer.settings import CustomerSettings
from tessera_shared.infra_tables import outbox
from tessera_shared.testing.databases import DatabaseFactory
from tessera_shared.testing.kafka import read_topic
from tessera_shared.testing.plugin import bearer, migrations_of, running


async def test_each_change_reaches_the_topic_once(
    databases: DatabaseFactory, kafka_bootstrap: str, namespace: str
) -> None:
    url = await databases.new("customer", "postgres", migrations_of(customer_main.__file__))
    settings = CustomerSettings(
        database_url=url,
        kafka_bootstrap=kafka_bootstrap,
        kafka_topic_namespace=namespace,
        kafka_consumer_group=f"{namespace}customer",
        kafka_partitions=1,
        log_json=False,
        jobs_enabled=False,
    )
    app = customer_main.create_app(settings)
    h = bearer(app, "boss", "sales_manager")
    url_ = "/v1/customers/batch/upsert"
    async with running(app) as client:
        seed = [{"external_id": f"k-{i}", "kind": "person", "name": f"Customer {i}"} for i in range(3)]
        r = await client.post(url_, json={"id_property": "external_id", "inputs": seed}, headers=h)
        assert r.status_code == 200, r.text
        mixed = [
            {"external_id": "k-0", "name": "Renamed"},  # updated
            {"external_id": "k-1", "name": "Customer 1"},  # unchanged
            {"external_id": "k-3", "kind": "robot", "name": "Bad"},  # invalid
            {"external_id": "k-4", "kind": "person", "name": "New"},  # created
        ]
        body = {"id_property": "external_id", "inputs": mixed}
        replayed = {**h, "Idempotency-Key": "kafka-batch"}
        r = await client.post(url_, json=body, headers=replayed)
        assert r.status_code == 207, r.text
        again = await client.post(url_, json=body, headers=replayed)
        assert again.json() == r.json()
        ids = {item["index"]: item["id"] for item in r.json()["results"]}

        async def relayed() -> bool:
            async with app.state.runtime.sessions() as s:
                rows = (await s.execute(outbox.select().where(outbox.c.sent_at.is_(None)))).all()
            return not rows

        for _ in range(200):
            if await relayed():
                break
            await asyncio.sleep(0.1)
        records = await read_topic(kafka_bootstrap, f"{namespace}crm.customer")  # to its end
    events = [orjson.loads(rec.value) for rec in records]
    created = [e["data"]["customer_id"] for e in events if e["type"] == "customer.created"]
    updated = [e["data"]["customer_id"] for e in events if e["type"] == "customer.updated"]
    assert len(created) == 4 and created[-1] == ids[3]
    assert updated == [ids[0]]
    assert len({e["id"] for e in events}) == len(events)
