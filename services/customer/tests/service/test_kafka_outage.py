"""With Kafka unreachable the service still takes writes: events wait in the outbox."""

from __future__ import annotations

import asyncio
import time

from sqlalchemy import func, select

import tessera_customer.main as customer_main
from tessera_customer.settings import CustomerSettings
from tessera_shared.infra_tables import outbox
from tessera_shared.testing.builders import customer_payload
from tessera_shared.testing.databases import DatabaseFactory
from tessera_shared.testing.plugin import bearer, migrations_of, running


async def test_writes_are_kept_while_kafka_is_down(databases: DatabaseFactory) -> None:
    url = await databases.new("customer", "postgres", migrations_of(customer_main.__file__))
    app = customer_main.create_app(CustomerSettings(database_url=url, kafka_bootstrap="127.0.0.1:1", log_json=False))
    started = time.monotonic()
    async with running(app) as client:
        assert time.monotonic() - started < 15
        r = await client.post("/v1/customers", json=customer_payload(), headers=bearer(app, "a", "admin"))
        assert r.status_code == 201
        ready = await client.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["kafka"] is False and ready.json()["database"] is True
        async with app.state.runtime.sessions() as s:
            unsent = await s.scalar(select(func.count()).select_from(outbox).where(outbox.c.sent_at.is_(None)))
        assert unsent == 1


async def test_a_replica_that_reached_kafka_stays_ready_through_an_outage(
    databases: DatabaseFactory, kafka_bootstrap: str
) -> None:
    """Readiness needs Kafka once (to start), not to stay ready: a broker outage must not take
    every replica out of its balancer while writes go on into the outbox."""
    url = await databases.new("customer", "postgres", migrations_of(customer_main.__file__))
    app = customer_main.create_app(CustomerSettings(database_url=url, kafka_bootstrap=kafka_bootstrap, log_json=False))
    async with running(app) as client:
        runtime = app.state.runtime
        for _ in range(100):
            ready = await client.get("/readyz")
            if ready.status_code == 200:
                break
            await asyncio.sleep(0.1)
        assert ready.status_code == 200 and ready.json()["kafka"] is True

        async def broker_away() -> bool:  # what check_kafka answers while the broker is down
            return False

        runtime.check_kafka = broker_away
        ready = await client.get("/readyz")
        assert ready.status_code == 200, ready.text
        assert ready.json()["kafka"] is False and ready.json()["status"] == "ready"
        r = await client.post("/v1/customers", json=customer_payload(), headers=bearer(app, "a", "admin"))
        assert r.status_code == 201
