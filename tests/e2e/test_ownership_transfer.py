"""Bulk ownership transfer through the gateway, on real Kafka and PostgreSQL (issue 24 part 4).

A manager transfers a leaving rep's open deals to another rep with plain HTTP through the gateway:
the open deals move, the won and lost ones stay with the leaving rep; each moved deal's
deal.updated (changes.owner_id) and the share's ownership.sales_transferred reach crm.sales; the
gateway's job sums the sales service's job (status, counts). The sales service runs its share
on its own (the sales-ownership scheduled job), as in production.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import httpx2
import orjson

import tessera_gateway.main as gateway_main
import tessera_sales.main as sales_main
from tessera_gateway.settings import GatewaySettings
from tessera_sales.testing import Api, sales_settings
from tessera_shared.events.envelope import topic_for
from tessera_shared.testing.customers import StubCustomers
from tessera_shared.testing.kafka import read_topic
from tessera_shared.testing.plugin import migrations_of, running


async def token(client: httpx.AsyncClient, user: str) -> dict[str, str]:
    r = await client.post("/auth/token", data={"grant_type": "password", "username": user, "password": "local"})
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


async def deal(client: httpx.AsyncClient, who: dict[str, str], customer_id: str, title: str) -> dict[str, Any]:
    r = await client.post(
        "/api/v1/deals",
        json={"customer_id": customer_id, "title": title, "amount": "1000.00", "currency": "EUR"},
        headers=who,
    )
    assert r.status_code == 201, r.text
    return dict(r.json())


async def test_a_leaving_reps_open_deals_move_with_their_events(databases, kafka_bootstrap, namespace) -> None:
    sales = sales_main.create_app(
        sales_settings(
            await databases.new("sales", "postgres", migrations_of(sales_main.__file__)),
            kafka_enabled=True,
            kafka_bootstrap=kafka_bootstrap,
            kafka_topic_namespace=namespace,
            kafka_consumer_group=f"{namespace}sales",
            kafka_partitions=3,
            jobs_enabled=True,
            token_revocations=False,
        )
    )
    sales.state.customer_directory = StubCustomers()  # every customer id is a live one here
    gateway = gateway_main.create_app(
        GatewaySettings(
            database_url=await databases.new("gateway", "postgres", migrations_of(gateway_main.__file__)),
            log_json=False,
            token_revocations=False,
            kafka_bootstrap=kafka_bootstrap,
            kafka_topic_namespace=namespace,
            sales_url="http://sales.test",
            customer_url="http://127.0.0.1:1",
            service_desk_url="http://127.0.0.1:1",
            billing_url="http://127.0.0.1:1",
        ),
        mounts={"http://sales.test": httpx2.ASGITransport(app=sales)},
    )
    async with sales.router.lifespan_context(sales), running(gateway) as client:
        rep1, boss = await token(client, "rep1"), await token(client, "manager")
        customer = "0193c4d0-0000-7000-8000-000000000001"
        moving = [await deal(client, rep1, customer, f"Open {i}") for i in range(3)]
        won, lost = await deal(client, rep1, customer, "Won"), await deal(client, rep1, customer, "Lost")
        r = await client.post(f"/api/v1/deals/{lost['id']}/lose", json={"reason": "price"}, headers=rep1)
        assert r.status_code == 200, r.text
        await Api(sales, client).credit_known(uuid.UUID(customer))  # billing's credit profile, consumed
        r = await client.post(f"/api/v1/deals/{won['id']}/win", json={}, headers=rep1)
        assert r.status_code == 200, r.text

        r = await client.post(
            "/api/v1/ownership/transfer",
            json={"from_user": "rep1", "to_user": "rep2", "resources": ["deals"]},
            headers=boss,
        )
        assert r.status_code == 202, r.text
        location = r.headers["location"]
        for _ in range(150):
            job = (await client.get(location, headers=boss)).json()
            if job["status"] in ("succeeded", "failed"):
                break
            await asyncio.sleep(0.1)
        assert (job["status"], job["counts"], job["from_user"], job["to_user"]) == (
            "succeeded",
            {"deals": 3},
            "rep1",
            "rep2",
        )
        owners = {d["id"]: d["owner_id"] for d in (await client.get("/api/v1/deals", headers=boss)).json()["items"]}
        assert [owners[d["id"]] for d in moving] == ["rep2"] * 3
        assert (owners[won["id"]], owners[lost["id"]]) == ("rep1", "rep1")
        # rep2 now sees the moved deals; rep1 only the closed ones.
        mine = (await client.get("/api/v1/deals", headers=await token(client, "rep2"))).json()["items"]
        assert sorted(d["id"] for d in mine) == sorted(d["id"] for d in moving)

        # The facts on crm.sales: one deal.updated per moved deal, then the share's announcement.
        topic = topic_for("sales", namespace)
        wanted = {d["id"] for d in moving}
        for _ in range(60):
            records = [orjson.loads(r.value) for r in await read_topic(kafka_bootstrap, topic, timeout=5.0)]
            moved = [
                e for e in records if e["type"] == "deal.updated" and e["data"].get("changes") == {"owner_id": "rep2"}
            ]
            announced = [e for e in records if e["type"] == "ownership.sales_transferred"]
            if {e["data"]["deal_id"] for e in moved} == wanted and announced:
                break
            await asyncio.sleep(0.5)
        assert sorted(e["data"]["deal_id"] for e in moved) == sorted(wanted)
        assert {e["data"]["updated_by"] for e in moved} == {"manager"}
        assert [e["data"]["counts"] for e in announced] == [{"deals": 3}]
        assert announced[0]["data"]["transfer_id"] == job["parts"][0]["id"]
