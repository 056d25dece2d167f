"""Consent for campaigns across services (docs/domain.md §10.4), on real Kafka and PostgreSQL: the
customer service announces a consent, sales takes the customer into an email campaign; the customer
withdraws it, and sales suspends the membership and announces that."""

from __future__ import annotations

from functools import partial
from typing import Any

import httpx
from sqlalchemy import select

import tessera_customer.main as customer_main
import tessera_sales.main as sales_main
from tessera_customer.settings import CustomerSettings
from tessera_sales.testing import sales_settings
from tessera_shared.infra_tables import outbox
from tessera_shared.testing.builders import customer_payload
from tessera_shared.testing.plugin import bearer, migrations_of, running
from tessera_shared.testing.waiting import eventually

# The consumers here catch up within 30 s.
eventually = partial(eventually, seconds=30.0)


async def test_a_withdrawal_in_the_customer_service_suspends_the_campaign_member(
    databases, kafka_bootstrap, namespace
) -> None:
    kafka = {
        "kafka_bootstrap": kafka_bootstrap,
        "kafka_topic_namespace": namespace,
        "kafka_partitions": 3,
        "log_json": False,
        "jobs_enabled": False,
        "token_revocations": False,
    }
    customer = customer_main.create_app(
        CustomerSettings(
            database_url=await databases.new("customer", "postgres", migrations_of(customer_main.__file__)), **kafka
        )
    )
    sales = sales_main.create_app(
        sales_settings(
            await databases.new("sales", "postgres", migrations_of(sales_main.__file__)),
            kafka_enabled=True,
            kafka_consumer_group=f"{namespace}sales",
            **kafka,
        )
    )
    async with running(customer) as crm, running(sales) as sell:
        admin = bearer(customer, "admin", "admin")
        manager = bearer(sales, "manager", "sales_manager")
        r = await crm.post("/v1/customers", json=customer_payload(), headers=admin)
        assert r.status_code == 201, r.text
        cid = r.json()["id"]
        consents = f"/v1/customers/{cid}/consents"
        r = await crm.post(
            consents, json={"purpose": "marketing_email", "granted": True, "source": "web_form"}, headers=admin
        )
        assert r.status_code == 201, r.text
        r = await sell.post(
            "/v1/campaigns",
            json={
                "name": "Newsletter",
                "channel": "email",
                "currency": "EUR",
                "budget": "10.00",
                "starts_on": "2026-12-01",
            },
            headers=manager,
        )
        assert r.status_code == 201, r.text
        members = f"/v1/campaigns/{r.json()['id']}/members"

        async def added() -> bool:  # 422 no_consent until sales has consumed the consent
            r = await sell.post(members, json={"members": [{"type": "customer", "id": cid}]}, headers=manager)
            assert r.status_code in (200, 422), r.text
            return r.status_code == 200

        await eventually(added)
        r = await crm.post(
            consents, json={"purpose": "marketing_email", "granted": False, "source": "unsubscribe link"}, headers=admin
        )
        assert r.status_code == 201, r.text

        async def suspended() -> dict[str, Any] | None:
            r: httpx.Response = await sell.get(members, headers=manager)
            member = next(m for m in r.json()["items"] if m["id"] == cid)
            return member if member["status"] == "suspended" else None

        member = await eventually(suspended)
        assert member["status_reason"] == "consent_withdrawn"
        async with sales.state.runtime.sessions() as s:
            moved = (
                (await s.execute(select(outbox.c.key).where(outbox.c.event_type == "campaign.member_status_changed")))
                .scalars()
                .all()
            )
        assert moved == [cid]
