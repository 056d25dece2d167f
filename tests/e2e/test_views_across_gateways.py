"""A write through one gateway is visible through every gateway (docs/domain.md §5.4), on real Kafka
and PostgreSQL: two gateway replicas, each with its own 360 view cache, in front of the four
services in process. Gateway B holds a customer's 360 in its cache; the deal's amount is changed
through gateway A (``PATCH /api/v1/deals/{id}``, which publishes ``deal.updated``); B answers the
new amount within a second — the event drops B's view, not the cache's 30 s lifetime."""

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
# What the issue asks (at idle); asserted with room for a busy test machine, the figure is printed.
TARGET_SECONDS, ALLOWED_SECONDS = 1.0, 2.0


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
        mounts: dict[str, httpx2.ASGITransport] = {}
        urls: dict[str, Any] = {}
        for name, (module, settings_cls) in SERVICES.items():
            db = await databases.new(name, "postgres", migrations_of(module.__file__))
            app = module.create_app(
                settings_cls(
                    database_url=db, kafka_enabled=True, kafka_consumer_group=f"{namespace}tessera-{name}", **kafka
                )
            )
            # Known customers (§10.2) without a customer-service round trip: the stub knows them all.
            app.state.customer_directory = StubCustomers()
            await stack.enter_async_context(app.router.lifespan_context(app))
            host = f"http://{name}.test"
            mounts[host] = httpx2.ASGITransport(app=app)
            urls[name.replace("-", "_") + "_url"] = host
        # Two replicas: one database (tokens, limits), a view cache and a watcher each.
        gateway_db = await databases.new("gateway", "postgres", migrations_of(gateway_main.__file__))
        clients = []
        for _ in range(2):
            gateway = gateway_main.create_app(
                GatewaySettings(
                    database_url=gateway_db,
                    view_cache_enabled=True,
                    view_cache_ttl_seconds=30.0,
                    view_deadline_seconds=10.0,
                    **kafka,
                    **urls,
                ),
                mounts=mounts,
            )
            clients.append(await stack.enter_async_context(running(gateway)))
        yield clients[0], clients[1]


async def login(client: httpx.AsyncClient, user: str) -> dict[str, str]:
    r = await client.post("/auth/token", data={"grant_type": "password", "username": user, "password": "local"})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def pipeline(view: dict[str, Any]) -> list[dict[str, str]]:
    return view["sales"]["pipeline_value"]


async def test_a_deal_changed_through_one_gateway_is_seen_through_the_other_within_a_second(
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

        # B keeps the view once every service has applied customer.created and deal.created.
        deadline = time.monotonic() + 60
        while True:
            r = await b.get(url, headers=admin)
            assert r.status_code == 200, r.text
            if r.headers["cache-status"].startswith("tessera-gateway; hit"):
                break
            assert time.monotonic() < deadline, f"B never answered from its cache: {r.headers['cache-status']}"
            await asyncio.sleep(0.1)
        assert pipeline(r.json()) == [{"currency": "EUR", "amount": "1000.00"}]

        r = await a.patch(f"/api/v1/deals/{deal_id}", json={"amount": "1250.00"}, headers=admin)
        assert r.status_code == 200, r.text
        written = time.monotonic()
        answers = 0
        while True:
            view = await b.get(url, headers=admin)
            answers += 1
            if pipeline(view.json()) == [{"currency": "EUR", "amount": "1250.00"}]:
                seen = time.monotonic() - written
                break
            assert time.monotonic() - written < 30, "B kept the old amount"
            await asyncio.sleep(0.01)
        print(
            f"\nthe new amount through the other gateway after {seen * 1000:.0f} ms "
            f"({answers} reads; target {TARGET_SECONDS:.0f} s; cache-status {view.headers['cache-status']!r})"
        )
        assert seen <= ALLOWED_SECONDS, f"{seen:.2f} s"
        # Not a cache that stopped working: once the services are past deal.updated, B keeps views again.
        deadline = time.monotonic() + 60
        while not (await b.get(url, headers=admin)).headers["cache-status"].startswith("tessera-gateway; hit"):
            assert time.monotonic() < deadline, "B never kept the view again"
            await asyncio.sleep(0.1)
