"""Facts that travel (docs/domain.md §10.6), on real Kafka and PostgreSQL: a rename in the customer
service reaches the name billing prints on a new invoice; deals created and moved in sales, a
write-off in billing and billing's flag on a win past the credit limit reach the customer's
timeline, each under the read rule of its source."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable
from typing import Any

import httpx
from sqlalchemy import text

import tessera_billing.main as billing_main
import tessera_customer.main as customer_main
import tessera_sales.main as sales_main
from tessera_billing.settings import BillingSettings
from tessera_customer.settings import CustomerSettings
from tessera_sales.testing import sales_settings
from tessera_shared.testing.plugin import bearer, migrations_of, running
from tessera_shared.testing.waiting import eventually

CUSTOMER_URL = "http://customer.test"


async def test_a_rename_and_sales_and_billing_facts_travel(databases, kafka_bootstrap, namespace) -> None:
    kafka = {
        "kafka_bootstrap": kafka_bootstrap,
        "kafka_topic_namespace": namespace,
        "kafka_partitions": 3,
        "log_json": False,
        "jobs_enabled": False,
        "token_revocations": False,
    }

    async def db(name: str, main: Any) -> str:
        return await databases.new(name, "postgres", migrations_of(main.__file__))

    customer = customer_main.create_app(CustomerSettings(database_url=await db("customer", customer_main), **kafka))
    to_customer = {CUSTOMER_URL: httpx.ASGITransport(app=customer)}
    sales = sales_main.create_app(
        sales_settings(
            await db("sales", sales_main),
            kafka_enabled=True,
            kafka_consumer_group=f"{namespace}sales",
            customer_url=CUSTOMER_URL,
            **kafka,
        ),
        mounts=to_customer,
    )
    billing = billing_main.create_app(
        BillingSettings(
            database_url=await db("billing", billing_main),
            kafka_consumer_group=f"{namespace}billing",
            customer_url=CUSTOMER_URL,
            **kafka,
        ),
        mounts=to_customer,
    )
    async with running(customer) as crm, running(sales) as sell, running(billing) as bill:
        admin = bearer(customer, "admin", "admin")
        r = await crm.post(
            "/v1/customers", json={"kind": "organization", "name": "Acme GmbH", "owner_id": "rep1"}, headers=admin
        )
        assert r.status_code == 201, r.text
        cid = r.json()["id"]
        clerk = bearer(billing, "clerk", "billing_clerk")

        async def invoice(amount: str) -> dict[str, Any]:
            body = {
                "customer_id": cid,
                "currency": "EUR",
                "issue": True,
                "lines": [{"description": "Service", "quantity": "1", "unit_price": amount}],
            }
            r = await bill.post("/v1/invoices", json=body, headers=clerk)
            assert r.status_code == 201, r.text
            return r.json()

        async def billing_knows(name: str) -> bool:
            async with billing.state.runtime.sessions() as s:
                found = await s.scalar(
                    text("SELECT customer_name FROM credit_profiles WHERE customer_id = :c"), {"c": uuid.UUID(cid)}
                )
            return found == name

        await eventually(lambda: billing_knows("Acme GmbH"))
        first = await invoice("100.00")

        # -- a rename reaches the name a new invoice prints -----------------------------------------
        r = await crm.patch(
            f"/v1/customers/{cid}", json={"name": "Acme AG"}, headers={**admin, "If-Match": r.headers["ETag"]}
        )
        assert r.status_code == 200, r.text
        await eventually(lambda: billing_knows("Acme AG"))
        second = await invoice("50.00")
        assert (first["customer_name"], second["customer_name"]) == ("Acme GmbH", "Acme AG")

        # -- deals in sales, a write-off in billing: on the customer's timeline ------------------------
        rep1 = bearer(sales, "rep1", "sales_rep")
        r = await sell.post(
            "/v1/deals",
            json={"customer_id": cid, "title": "Rollout", "currency": "EUR", "amount": "900.00"},
            headers=rep1,
        )
        assert r.status_code == 201, r.text
        r = await sell.patch(f"/v1/deals/{r.json()['id']}", json={"stage": "proposal"}, headers=rep1)
        assert r.status_code == 200, r.text
        r = await bill.post("/v1/write-offs", json={"invoice_id": second["id"], "reason": "insolvent"}, headers=clerk)
        assert r.status_code == 201, r.text
        r = await bill.post(
            f"/v1/write-offs/{r.json()['id']}/approve", headers=bearer(billing, "fm", "finance_manager")
        )
        assert r.status_code == 200, r.text
        # A win past the (default) credit limit, let through by a finance manager: billing flags it.
        r = await sell.post(
            "/v1/deals",
            json={"customer_id": cid, "title": "Big rollout", "currency": "EUR", "amount": "20000.00"},
            headers=rep1,
        )
        assert r.status_code == 201, r.text
        r = await sell.post(
            f"/v1/deals/{r.json()['id']}/win",
            json={"credit_override": True},
            headers=bearer(sales, "fm", "finance_manager"),
        )
        assert r.status_code == 200, r.text

        async def kinds(*who: str) -> list[str]:
            r = await crm.get(f"/v1/customers/{cid}/timeline", params={"limit": 100}, headers=bearer(customer, *who))
            assert r.status_code == 200, r.text
            return sorted(e["kind"] for e in r.json()["items"] if e["source"] != "customer")

        travelled = ["deal.created", "deal.stage_changed", "invoice.written_off", "credit.limit_exceeded"]
        everything = await eventually(lambda: _having(kinds("admin", "admin"), travelled))
        assert set(travelled) <= set(everything)
        # sales' owner rule, billing's write-off readers and credit readers hold on the timeline
        rep1_sees = set(await kinds("rep1", "sales_rep"))
        assert {"deal.created", "deal.stage_changed", "credit.limit_exceeded"} <= rep1_sees
        assert "invoice.written_off" not in rep1_sees
        rep2 = set(await kinds("rep2", "sales_rep"))
        assert not {"deal.created", "deal.stage_changed", "invoice.written_off"} & rep2
        assert "credit.limit_exceeded" in rep2  # credit flags have no owner rule at billing
        clerk_sees = set(await kinds("bc", "billing_clerk"))
        assert {"invoice.written_off", "credit.limit_exceeded"} <= clerk_sees and "deal.created" not in clerk_sees


async def _having(kinds: Awaitable[list[str]], wanted: list[str]) -> list[str] | None:
    got = await kinds
    return got if set(wanted) <= set(got) else None
