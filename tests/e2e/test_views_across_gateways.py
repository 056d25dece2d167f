"""A write through one gateway is visible through every gateway (docs/domain.md §5.4), on real Kafka
and PostgreSQL: two gateway replicas, each with its own 360 view cache, in front of the four
services in process, sales as two replicas on one database (gateway A calls one, gateway B the
other: one of them holds the outbox relay's lease, so half of the writes are published by the
other replica's relay). One gateway holds a customer's 360 in its cache; the deal's amount is
changed through the other (``PATCH /api/v1/deals/{id}``, which publishes ``deal.updated``); the
first answers the new amount within a second at idle — the event drops its view, not the cache's
lifetime. The cache here keeps a view for ten minutes, so only the event can make the new amount
appear; the test allows ten seconds (four test workers on two cores delay the relay and the
watcher by seconds at times) and prints the figures. Writes go both ways, so both sales replicas
take them."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import httpx
import httpx2

import tessera_billing.main as billing_main
import tessera_customer.main as customer_main
import tessera_gateway.main as gateway_main
import tessera_sales.main as sales_main
import tessera_service_desk.main as desk_main
from tessera_billing.settings import BillingSettings
from tessera_customer.settings import CustomerSettings
from tessera_gateway.settings import GatewaySettings
from tessera_sales.settings import SalesSettings
from tessera_service_desk.settings import ServiceDeskSettings
from tessera_shared.testing.builders import customer_payload
from tessera_shared.testing.customers import StubCustomers
from tessera_shared.testing.plugin import migrations_of, running

SERVICES = {
    "customer": (customer_main, CustomerSettings),
    "sales": (sales_main, SalesSettings),
    "service-desk": (desk_main, ServiceDeskSettings),
    "billing": (billing_main, BillingSettings),
}
# What the issue asks (at idle), printed beside the figures; the assertion is that the event, not
# the cache's lifetime (CACHE_TTL_SECONDS, far longer than ALLOWED_SECONDS), brings the new amount.
TARGET_SECONDS, ALLOWED_SECONDS, CACHE_TTL_SECONDS = 1.0, 10.0, 600.0


@asynccontextmanager
async def two_gateways(databases: Any, kafka_bootstrap: str, namespace: str) -> AsyncIterator[tuple[Any, Any]]:
    kafka: dict[str, Any] = {
        "kafka_bootstrap": kafka_bootstrap,
        "kafka_topic_namespace": namespace,
        "kafka_partitions": 3,
        "log_json": False,
        "jobs_enabled": False,
        "token_revocations": False,
    }
    async with AsyncExitStack() as stack:
        # Per gateway, the service apps it calls: the same ones but for sales, a replica each.
        mounts: list[dict[str, httpx2.ASGITransport]] = [{}, {}]
        urls: dict[str, Any] = {}
        for name, (module, settings_cls) in SERVICES.items():
            db = await databases.new(name, "postgres", migrations_of(module.__file__))
            host = f"http://{name}.test"
            urls[name.replace("-", "_") + "_url"] = host
            apps = []
            for _ in range(2 if name == "sales" else 1):
                app = module.create_app(
                    settings_cls(
                        database_url=db, kafka_enabled=True, kafka_consumer_group=f"{namespace}tessera-{name}", **kafka
                    )
                )
                # Known customers (§10.2) without a customer-service round trip: the stub knows them all.
                app.state.customer_directory = StubCustomers()
                await stack.enter_async_context(app.router.lifespan_context(app))
                apps.append(app)
            for i in range(2):
                mounts[i][host] = httpx2.ASGITransport(app=apps[i % len(apps)])
        # Two replicas: one database (tokens, limits), a view cache and a watcher each.
        gateway_db = await databases.new("gateway", "postgres", migrations_of(gateway_main.__file__))
        clients = []
        for i in range(2):
            gateway = gateway_main.create_app(
                GatewaySettings(
                    database_url=gateway_db,
                    view_cache_enabled=True,
                    view_cache_ttl_seconds=CACHE_TTL_SECONDS,
                    view_deadline_seconds=10.0,
                    **kafka,
                    **urls,
                ),
                mounts=mounts[i],
            )
            clients.append(await stack.enter_async_context(running(gateway)))
        yield clients[0], clients[1]


async def login(client: httpx.AsyncClient, user: str) -> dict[str, str]:
    r = await client.post("/auth/token", data={"grant_type": "password", "username": user, "password": "local"})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def pipeline(view: dict[str, Any]) -> list[dict[str, str]]:
    return view["sales"]["pipeline_value"]


async def cached(gateway: httpx.AsyncClient, url: str, headers: dict[str, str]) -> dict[str, Any]:
    """The view, once the gateway answers it from its cache (every service applied the events)."""
    deadline = time.monotonic() + 60
    while True:
        r = await gateway.get(url, headers=headers)
        assert r.status_code == 200, r.text
        if r.headers["cache-status"].startswith("tessera-gateway; hit"):
            return r.json()
        assert time.monotonic() < deadline, f"never answered from the cache: {r.headers['cache-status']}"
        await asyncio.sleep(0.1)


async def test_a_deal_changed_through_one_gateway_is_seen_through_the_other_by_its_event_not_the_cache_lifetime(
    databases: Any, kafka_bootstrap: str, namespace: str
) -> None:
    async with two_gateways(databases, kafka_bootstrap, namespace) as (a, b):
        admin = await login(a, "admin")
        r = await a.post("/api/v1/customers", json=customer_payload(), headers=admin)
        assert r.status_code == 201, r.text
        cid = r.json()["id"]
        deal = {"customer_id": cid, "title": "Rollout", "currency": "EUR", "amount": "1000.00"}
        r = await a.post("/api/v1/deals", json=deal, headers=admin)
        assert r.status_code == 201, r.text
        deal_id = r.json()["id"]
        url = f"/api/v1/customers/{cid}/360"

        seen: list[float] = []
        for round_ in range(6):
            # Even rounds: written through A (sales replica 1), read through B; odd rounds the reverse.
            writer, reader = (a, b) if round_ % 2 == 0 else (b, a)
            old = pipeline(await cached(reader, url, admin))
            amount = f"{1100 + 100 * round_}.00"
            assert old != [{"currency": "EUR", "amount": amount}]
            r = await writer.patch(f"/api/v1/deals/{deal_id}", json={"amount": amount}, headers=admin)
            assert r.status_code == 200, r.text
            written = time.monotonic()
            while True:
                view = await reader.get(url, headers=admin)
                if pipeline(view.json()) == [{"currency": "EUR", "amount": amount}]:
                    seen.append(time.monotonic() - written)
                    break
                assert time.monotonic() - written < ALLOWED_SECONDS, "the other gateway kept the old amount"
                await asyncio.sleep(0.01)
        print(
            "\nthe new amount through the other gateway after (ms): "
            + ", ".join(f"{x * 1000:.0f}" for x in seen)
            + f"; max {max(seen) * 1000:.0f} ms (target {TARGET_SECONDS:.0f} s)"
        )
        assert max(seen) <= ALLOWED_SECONDS, seen
