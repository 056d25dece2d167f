"""Credit at the point of sale across services (docs/domain.md §10.1), on real Kafka and PostgreSQL:
billing issues invoices and announces the customer's exposure; sales learns it and refuses a win
past the limit; a deal in another currency waits for finance's exchange rate; a finance manager's
override wins, and billing records it as credit.limit_exceeded."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

import httpx
from sqlalchemy import select

import tessera_billing.main as billing_main
import tessera_customer.main as customer_main
import tessera_sales.main as sales_main
from tessera_billing.settings import BillingSettings
from tessera_customer.settings import CustomerSettings
from tessera_sales.credit.models import CreditLine, ExchangeRateCopy
from tessera_sales.testing import sales_settings
from tessera_shared.events import parse_envelope
from tessera_shared.infra_tables import outbox
from tessera_shared.testing.builders import customer_payload
from tessera_shared.testing.plugin import bearer, migrations_of, running
from tessera_shared.testing.waiting import eventually

# The consumers here catch up within 30 s.
eventually = partial(eventually, seconds=30.0)


async def published(app: Any, event_type: str) -> list[dict[str, Any]]:
    async with app.state.runtime.sessions() as s:
        rows = (await s.execute(select(outbox.c.envelope).where(outbox.c.event_type == event_type))).scalars()
        return [parse_envelope(r).data for r in rows]


async def test_billing_exposure_stops_a_win_past_the_limit_and_an_override_is_recorded(
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
    billing = billing_main.create_app(
        BillingSettings(
            database_url=await databases.new("billing", "postgres", migrations_of(billing_main.__file__)),
            kafka_consumer_group=f"{namespace}billing",
            **kafka,
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
    async with running(customer) as crm, running(billing) as bill, running(sales) as sell:
        r = await crm.post("/v1/customers", json=customer_payload(), headers=bearer(customer, "admin", "admin"))
        assert r.status_code == 201, r.text
        cid = r.json()["id"]
        finance_b, clerk = bearer(billing, "fin", "finance_manager"), bearer(billing, "clerk", "billing_clerk")
        rep, finance_s = bearer(sales, "rep1", "sales_rep"), bearer(sales, "fin", "finance_manager")

        async def profile() -> bool:
            return (await bill.get(f"/v1/credit/{cid}", headers=finance_b)).status_code == 200

        await eventually(profile)  # billing made the customer's credit profile from customer.created

        async def announced() -> bool:  # ... and announced it: sales has no default limit of its own
            async with sales.state.runtime.sessions() as s:
                line = await s.get(CreditLine, uuid.UUID(cid))
                return line is not None and (str(line.credit_limit), line.currency) == ("10000.00", "EUR")

        await eventually(announced)
        r = await bill.patch(f"/v1/credit/{cid}", json={"credit_limit": "1000.00"}, headers=finance_b)
        assert r.status_code == 200, r.text
        r = await bill.post(
            "/v1/invoices",
            json={
                "customer_id": cid,
                "currency": "EUR",
                "issue": True,
                "lines": [{"description": "Service", "quantity": "1", "unit_price": "800.00"}],
            },
            headers=clerk,
        )
        assert r.status_code == 201, r.text

        async def learnt(exposure: str) -> Callable[[], Awaitable[bool]]:
            async def probe() -> bool:
                async with sales.state.runtime.sessions() as s:
                    line = await s.get(CreditLine, uuid.UUID(cid))
                    return line is not None and str(line.exposure) == exposure and str(line.credit_limit) == "1000.00"

            return probe

        await eventually(await learnt("800.00"))  # sales' copy of billing's limit and exposure

        async def deal(amount: str, currency: str = "EUR") -> dict[str, Any]:
            body = {"customer_id": cid, "title": "Licences", "amount": amount, "currency": currency}

            async def created() -> httpx.Response | None:
                r = await sell.post("/v1/deals", json=body, headers=rep)
                return r if r.status_code == 201 else None

            return (await eventually(created)).json()

        # A deal in USD: no rate converts it into the limit's EUR yet, so the win is refused, not skipped.
        usd = await deal("250.00", "USD")
        r = await sell.post(f"/v1/deals/{usd['id']}/win", json={}, headers=rep)
        assert r.status_code == 409 and r.json()["type"] == "urn:tessera:problem:no-exchange-rate", r.text
        r = await bill.put("/v1/exchange-rates/USD/EUR", json={"rate": "0.8"}, headers=finance_b)
        assert r.status_code == 200, r.text

        async def rate() -> bool:
            async with sales.state.runtime.sessions() as s:
                return await s.get(ExchangeRateCopy, ("USD", "EUR")) is not None

        await eventually(rate)
        r = await sell.post(f"/v1/deals/{usd['id']}/win", json={}, headers=rep)  # 800 + 200.00 <= 1000
        assert r.status_code == 200, r.text

        # The USD win counts at once; then billing's invoice of it replaces it in the exposure.
        eur = await deal("300.00")
        r = await sell.post(f"/v1/deals/{eur['id']}/win", json={}, headers=rep)
        assert r.status_code == 409, r.text
        problem = r.json()
        assert problem["type"] == "urn:tessera:problem:credit-limit-exceeded"
        assert (problem["limit"], problem["exposure"], problem["amount"], problem["currency"]) == (
            "1000.00",
            "1000.00",
            "300.00",
            "EUR",
        )
        r = await sell.post(f"/v1/deals/{eur['id']}/win", json={"credit_override": True}, headers=rep)
        assert r.status_code == 403
        r = await sell.post(f"/v1/deals/{eur['id']}/win", json={"credit_override": True}, headers=finance_s)
        assert r.status_code == 200, r.text

        async def recorded() -> list[dict[str, Any]]:
            return await published(billing, "credit.limit_exceeded")

        [record] = await eventually(recorded)
        assert record["deal_id"] == eur["id"] and record["approved_by"] == "fin"
        assert (record["credit_limit"], record["requested_amount"], record["currency"]) == ("1000.00", "300.00", "EUR")

        # Billing invoiced both wins (250 USD and 300 EUR): sales' copy follows, per currency.
        async def both_invoiced() -> bool:
            async with sales.state.runtime.sessions() as s:
                line = await s.get(CreditLine, uuid.UUID(cid))
                balances = {} if line is None else {b["currency"]: b["amount"] for b in line.open_balances}
                return balances == {"EUR": "1100.00", "USD": "250.00"}

        await eventually(both_invoiced)
        another = await deal("0.01")
        r = await sell.post(f"/v1/deals/{another['id']}/win", json={}, headers=rep)
        assert r.status_code == 409 and r.json()["exposure"] == "1300.00", r.text
