"""Real Kafka: a pipeline's changes and a deal in it reach crm.sales, keyed by the pipeline (its
events) and by the customer (the deal's), with the pipeline's names in the deal's events."""

from __future__ import annotations

import uuid

import orjson

import tessera_sales.main as sales_main
from tessera_sales.testing import Api, sales_settings
from tessera_shared.testing.customers import StubCustomers
from tessera_shared.testing.kafka import read_topic
from tessera_shared.testing.plugin import migrations_of, running


async def test_pipeline_events_reach_kafka(databases, kafka_bootstrap, namespace) -> None:
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
    app.state.customer_directory = StubCustomers()
    async with running(app) as client:
        api = Api(app, client)
        stages = [{"key": "discovery", "name": "Discovery"}, {"key": "demo", "name": "Demo"}]
        r = await client.post("/v1/pipelines", json={"name": "Channel", "stages": stages}, headers=api.manager)
        assert r.status_code == 201, r.text
        pipeline = r.json()
        r = await client.patch(f"/v1/pipelines/{pipeline['id']}", json={"name": "Channel sales"}, headers=api.manager)
        assert r.status_code == 200, r.text
        customer = str(uuid.uuid4())
        deal = await api.deal(customer_id=customer, pipeline_id=pipeline["id"])
        records = await read_topic(kafka_bootstrap, f"{namespace}crm.sales", expect=3, timeout=30)
    seen = {orjson.loads(rec.value)["type"]: (rec.key.decode(), orjson.loads(rec.value)["data"]) for rec in records}
    assert seen["pipeline.created"][0] == pipeline["id"]
    assert seen["pipeline.updated"][0] == pipeline["id"] and seen["pipeline.updated"][1]["name"] == "Channel sales"
    key, data = seen["deal.created"]
    assert key == customer and data["deal_id"] == deal["id"]
    assert (data["pipeline_name"], data["stage_key"], data["stage_name"]) == ("Channel sales", "discovery", "Discovery")
