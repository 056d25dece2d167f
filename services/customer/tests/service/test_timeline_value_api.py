"""Timeline (newest first, cursor), value recomputation with tier events, churn risk, win-back."""

from __future__ import annotations

import uuid
from decimal import Decimal

import httpx
import pytest
from fastapi import FastAPI

import tessera_customer.main as customer_main
from services.customer.tests.helpers import (
    at,
    count,
    create,
    deal_lost,
    deal_won,
    deliver,
    events,
    overdue,
    payment,
    survey,
    ticket_escalated,
    ticket_opened,
)
from tessera_customer.handlers import handlers
from tessera_customer.settings import CustomerSettings
from tessera_customer.timeline.models import TimelineEntry
from tessera_customer.value.models import TierChange
from tessera_shared.consumer import Batched
from tessera_shared.db import unit_of_work
from tessera_shared.events import build_event
from tessera_shared.testing.databases import DatabaseFactory
from tessera_shared.testing.plugin import bearer, migrations_of, running
from tessera_shared.trace_context import new_traceparent


class TestTimeline:
    async def test_every_fact_newest_first_with_cursor(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        c = await create(client, app)
        ticket = uuid.uuid4()
        await deliver(app, deal_won(c["id"], won_at=at(2026, 1, 1)))
        await deliver(app, ticket_opened(c["id"], ticket))
        await deliver(app, ticket_escalated(c["id"], ticket))
        h = bearer(app, "boss", "sales_manager")  # reads every deal (an agent reads none: test_timeline_visibility)
        kinds, cursor = [], None
        while True:
            r = await client.get(
                f"/v1/customers/{c['id']}/timeline",
                params={"limit": 2, **({"cursor": cursor} if cursor else {})},
                headers=h,
            )
            assert r.status_code == 200, r.text
            kinds += [(e["kind"], e["occurred_at"]) for e in r.json()["items"]]
            cursor = r.json()["next_cursor"]
            if cursor is None:
                break
        assert sorted(kinds, key=lambda k: k[1], reverse=True) == kinds
        assert {k for k, _ in kinds} == {
            "customer.created",
            "deal.won",
            "customer.status_changed",
            "ticket.opened",
            "ticket.escalated",
        }
        only = await client.get(f"/v1/customers/{c['id']}/timeline", params={"kind": "deal.won"}, headers=h)
        assert [e["source"] for e in only.json()["items"]] == ["sales"]

    async def test_a_run_of_facts_is_applied_in_order_each_once_under_its_own_trace(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        """The consumer hands a poll's facts over as one run: a repeat within it is applied once,
        each fact in order, and what a fact publishes carries that fact's trace."""
        c, other = await create(client, app), await create(client, app, name="Other", email="other@example.com")
        first, second = deal_won(c["id"], won_at=at(2026, 1, 1)), deal_won(c["id"], won_at=at(2026, 2, 1))
        facts = [first, ticket_opened(other["id"]), first, second, deal_won(other["id"], won_at=at(2026, 1, 5))]
        run = [build_event(d, subject=d.customer_id, traceparent=new_traceparent()) for d in facts]
        handler = handlers(app.state.settings)["deal.won"]
        assert isinstance(handler, Batched)
        async with unit_of_work(app.state.runtime.sessions) as session:
            await handler.many(session, [(e, e.typed_data()) for e in run])
        h = bearer(app, "boss", "sales_manager")
        r = await client.get(f"/v1/customers/{c['id']}/timeline", params={"kind": "deal.won"}, headers=h)
        assert [e["occurred_at"][:10] for e in r.json()["items"]] == ["2026-02-01", "2026-01-01"]  # the repeat: once
        r = await client.get(f"/v1/customers/{c['id']}", headers=h)
        assert r.json()["status"] == "repeat"  # prospect -> customer -> repeat: two purchases
        changes = await events(app, "customer.status_changed")
        traces = [(e["data"]["customer_id"], e["traceparent"][3:35]) for e in changes]
        trace = [str(e.traceparent)[3:35] for e in run]
        assert traces == [(c["id"], trace[0]), (c["id"], trace[3]), (other["id"], trace[4])]

    async def test_errors(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        c = await create(client, app)
        url = f"/v1/customers/{c['id']}/timeline"
        assert (await client.get(url)).status_code == 401
        assert (await client.get(url, headers=bearer(app, "p", "partner", kind="client"))).status_code == 403
        assert (await client.get(url, params={"cursor": "bad!"}, headers=bearer(app, "a", "admin"))).status_code == 422
        assert (
            await client.get(f"/v1/customers/{uuid.uuid4()}/timeline", headers=bearer(app, "a", "admin"))
        ).status_code == 404


class TestValue:
    @pytest.mark.sqlite
    async def test_recompute_sets_rfm_tiers_and_publishes_tier_changes(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        big, mid, tiny = [await create(client, app) for _ in range(3)]
        for customer, amounts in ((big, ["800", "700", "500"]), (mid, ["300"]), (tiny, ["10"])):
            for i, amount in enumerate(amounts):
                await deliver(
                    app, payment(customer["id"], amount, received_at=at(2026, 3, 1 + i), invoice_id=uuid.uuid4())
                )
        h = bearer(app, "m", "sales_manager")
        r = await client.post("/v1/customers/value-recomputations", json={"as_of": "2026-06-01T00:00:00Z"}, headers=h)
        assert r.status_code == 200, r.text
        assert (r.json()["customers"], r.json()["tier_changes"]) == (3, 3)
        values = {
            c["id"]: (await client.get(f"/v1/customers/{c['id']}", headers=h)).json()["value"] for c in (big, mid, tiny)
        }
        assert [values[c["id"]]["tier"] for c in (big, mid, tiny)] == ["key", "ordinary", "small"]
        assert values[big["id"]]["lifetime_values"] == {"EUR": "2000.00"}
        assert values[big["id"]]["rfm_frequency"] > values[tiny["id"]]["rfm_frequency"]
        assert values[big["id"]]["frequency_class"] == "heavy" and values[mid["id"]]["frequency_class"] == "light"
        tier_events = {e["subject"]: e["data"]["to_tier"] for e in await events(app, "customer.tier_changed")}
        assert tier_events == {big["id"]: "key", mid["id"]: "ordinary", tiny["id"]: "small"}
        # The batch's multi-row INSERTs: one history row and one timeline line per change as well.
        assert await count(app, TierChange) == 3
        assert await count(app, TimelineEntry, TimelineEntry.kind == "customer.tier_changed") == 3
        again = await client.post(
            "/v1/customers/value-recomputations", json={"as_of": "2026-06-01T00:00:00Z"}, headers=h
        )
        assert again.json()["tier_changes"] == 0

    async def test_recompute_roles(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        assert (await client.post("/v1/customers/value-recomputations", json={})).status_code == 401
        r = await client.post("/v1/customers/value-recomputations", json={}, headers=bearer(app, "r", "sales_rep"))
        assert r.status_code == 403
        r = await client.post(
            "/v1/customers/value-recomputations", json={"as_of": 5, "x": 1}, headers=bearer(app, "a", "admin")
        )
        assert r.status_code == 422


class TestChurnRisk:
    @pytest.mark.sqlite
    async def test_signals_give_a_score_with_reasons_and_win_back(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        c = await create(client, app)
        calm = await create(client, app)
        ticket = uuid.uuid4()
        await deliver(app, deal_won(c["id"], won_at=at(2020, 1, 1)))
        for fact in (
            ticket_opened(c["id"], ticket),
            ticket_escalated(c["id"], ticket),
            survey(c["id"], 1),
            overdue(c["id"]),
            deal_lost(c["id"], "price"),
            deal_lost(c["id"], "price"),
        ):
            await deliver(app, fact)
        h = bearer(app, "m", "sales_manager")
        risk = (await client.get(f"/v1/customers/{c['id']}/churn-risk", headers=h)).json()
        assert {r["code"] for r in risk["reasons"]} == {
            "days_since_last_purchase",
            "open_tickets",
            "escalated_tickets",
            "low_satisfaction",
            "overdue_invoices",
        }
        assert risk["at_risk"] and risk["score"] == 35 + 5 + 10 + 15 + 10
        assert (risk["lost_deals"], risk["lost_reasons"]) == (2, {"price": 2})
        listed = (await client.get("/v1/customers/win-back", headers=h)).json()["items"]
        assert [i["id"] for i in listed] == [c["id"]]
        assert (await client.get(f"/v1/customers/{calm['id']}/churn-risk", headers=h)).json()["score"] == 0

    async def test_errors(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        assert (await client.get(f"/v1/customers/{uuid.uuid4()}/churn-risk")).status_code == 401
        assert (
            await client.get("/v1/customers/win-back", headers=bearer(app, "c", "billing_clerk"))
        ).status_code == 403
        assert (
            await client.get(f"/v1/customers/{uuid.uuid4()}/churn-risk", headers=bearer(app, "a", "admin"))
        ).status_code == 404


class TestValueAggregation:
    async def test_sums_are_exact_per_window_and_currency(self, databases: DatabaseFactory, backend: str) -> None:
        url = await databases.new("customer", backend, migrations_of(customer_main.__file__))
        app = customer_main.create_app(
            CustomerSettings(
                database_url=url,
                kafka_enabled=False,
                log_json=False,
                fx_rates={"USD": Decimal("0.5")},
                tier_vip_lifetime_value=Decimal("1000"),
            )
        )
        async with running(app) as client:
            ours, other, big = [await create(client, app) for _ in range(3)]
            facts = [payment(ours["id"], "0.10", received_at=at(2026, 2, d)) for d in (1, 2, 3)]
            facts += [
                payment(ours["id"], "100.00", currency="USD", received_at=at(2026, 2, 4)),
                payment(ours["id"], "7.00", currency="GBP", received_at=at(2026, 2, 5)),  # no rate: left out
                payment(ours["id"], "1000.00", received_at=at(2025, 1, 1)),  # before the window
                payment(other["id"], "100.00", received_at=at(2026, 2, 1)),
                payment(big["id"], "1000.00", received_at=at(2026, 2, 1)),
            ]
            for fact in facts:
                await deliver(app, fact)
            h = bearer(app, "m", "sales_manager")
            r = await client.post(
                "/v1/customers/value-recomputations", json={"as_of": "2026-06-01T00:00:00Z"}, headers=h
            )
            assert r.json()["customers"] == 3
            value = (await client.get(f"/v1/customers/{ours['id']}", headers=h)).json()["value"]
            assert value["monetary"] == "50.30"
            assert value["tier"] == "key"  # small by window revenue, key by the VIP lifetime rule (1050.30)
            assert (await client.get(f"/v1/customers/{other['id']}", headers=h)).json()["value"]["tier"] == "ordinary"
