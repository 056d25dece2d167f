"""One trace from the gateway, into the customer service, through Kafka, into billing's consumer."""

from __future__ import annotations

import asyncio
import secrets

import httpx2
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from sqlalchemy import select

import tessera_billing.main as billing_main
import tessera_customer.main as customer_main
import tessera_gateway.main as gateway_main
from tessera_billing.settings import BillingSettings
from tessera_customer.settings import CustomerSettings
from tessera_gateway.settings import GatewaySettings
from tessera_shared.events import parse_envelope
from tessera_shared.infra_tables import outbox
from tessera_shared.testing.builders import customer_payload
from tessera_shared.testing.plugin import migrations_of, running


def capture(app) -> InMemorySpanExporter:
    exporter = InMemorySpanExporter()
    app.state.tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    return exporter


async def test_trace_id_crosses_gateway_service_kafka_and_consumer(databases, kafka_bootstrap, namespace) -> None:
    kafka = {
        "kafka_bootstrap": kafka_bootstrap,
        "kafka_topic_namespace": namespace,
        "kafka_partitions": 3,
        "log_json": False,
        "jobs_enabled": False,
        "otel_sample_ratio": 1.0,
    }
    customer = customer_main.create_app(
        CustomerSettings(
            database_url=await databases.new("customer", "postgres", migrations_of(customer_main.__file__)), **kafka
        )
    )
    billing = billing_main.create_app(
        BillingSettings(
            database_url=await databases.new("billing", "postgres", migrations_of(billing_main.__file__)),
            kafka_consumer_group=f"{namespace}billing",
            **kafka,
        )
    )
    gateway = gateway_main.create_app(
        GatewaySettings(
            database_url=await databases.new("gateway", "sqlite", migrations_of(gateway_main.__file__)),
            log_json=False,
            otel_sample_ratio=1.0,
            customer_url="http://customer.test",
        ),
        mounts={"http://customer.test": httpx2.ASGITransport(app=customer)},
    )
    spans = {name: capture(app) for name, app in (("gateway", gateway), ("customer", customer), ("billing", billing))}
    trace_id = secrets.token_hex(16)
    async with running(customer), running(billing), running(gateway) as client:
        token = (
            await client.post("/auth/token", data={"grant_type": "password", "username": "rep1", "password": "local"})
        ).json()["access_token"]
        r = await client.post(
            "/api/v1/customers",
            json=customer_payload(),
            headers={"Authorization": f"Bearer {token}", "traceparent": f"00-{trace_id}-{secrets.token_hex(8)}-01"},
        )
        assert r.status_code == 201
        for _ in range(300):
            if any(s.name == "consume customer.created" for s in spans["billing"].get_finished_spans()):
                break
            await asyncio.sleep(0.05)
        async with customer.state.runtime.sessions() as s:
            envelope = parse_envelope((await s.execute(select(outbox.c.envelope))).scalar_one())

    def trace_ids(name: str) -> set[str]:
        return {format(s.context.trace_id, "032x") for s in spans[name].get_finished_spans()}

    assert trace_id in trace_ids("gateway")
    assert trace_id in trace_ids("customer")
    assert envelope.traceparent is not None and envelope.traceparent.split("-")[1] == trace_id
    consumer_spans = [s for s in spans["billing"].get_finished_spans() if s.name == "consume customer.created"]
    assert [format(s.context.trace_id, "032x") for s in consumer_spans] == [trace_id]
    server = next(s for s in spans["customer"].get_finished_spans() if s.name == "POST /v1/customers")
    parent = consumer_spans[0].parent
    assert parent is not None
    assert parent.span_id == server.context.span_id  # billing's span hangs under the request
