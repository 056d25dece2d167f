"""A run of purchase facts (deal.won, invoice.paid, payment.received) handled at once: the run
reads its purchase keys and its customers' loyalty windows in one query and writes its rows and
status changes at its end. Each run here is compared with the same facts delivered one at a time
to a twin customer: the same purchases, statuses, events (in order) and timeline."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from services.customer.tests.helpers import NOW, at, create, deal_won, deliver, events, invoice_paid, ticket_opened
from tessera_customer.customers.models import Customer
from tessera_customer.handlers import handlers
from tessera_customer.value.models import Purchase
from tessera_shared.consumer import Batched
from tessera_shared.db import unit_of_work
from tessera_shared.events import build_event
from tessera_shared.events.envelope import EventData
from tessera_shared.testing.plugin import bearer
from tessera_shared.trace_context import new_traceparent


async def _run(app: FastAPI, facts: list[EventData], repeat: tuple[int, ...] = ()) -> list[Any]:
    """``facts`` as one run of the batched handler (the events at ``repeat`` delivered twice)."""
    built = [build_event(d, subject=getattr(d, "customer_id", None), traceparent=new_traceparent()) for d in facts]
    run = [e for i, e in enumerate(built) for _ in range(2 if i in repeat else 1)]
    handler = handlers(app.state.settings)["deal.won"]
    assert isinstance(handler, Batched)
    async with unit_of_work(app.state.runtime.sessions) as session:
        await handler.many(session, [(e, e.typed_data()) for e in run])
    return built


async def _state(app: FastAPI, customer_id: str) -> dict[str, Any]:
    async with app.state.runtime.sessions() as s:
        c = await s.get(Customer, uuid.UUID(customer_id))
        assert c is not None
        purchases = await s.scalar(select(func.count()).select_from(Purchase).where(Purchase.customer_id == c.id))  # type: ignore[arg-type]
        state = (c.status, c.purchase_count, c.first_purchase_at, c.last_purchase_at, purchases)
    published = [
        (e["type"], e["data"].get("to_status"), e["data"].get("reason"), e["data"].get("to_level"))
        for e in await events(app)
        if e["subject"] == customer_id and e["type"] in ("customer.status_changed", "loyalty.level_changed")
    ]
    return {"customer": state, "events": published}


def _twin_facts(customer_id: str, deals: list[uuid.UUID]) -> list[EventData]:
    """Wins out of time order (one before the purchases already counted), a paid invoice of one
    of them (the same purchase: not counted again; enough points for the gold level), a ticket."""
    return [
        deal_won(customer_id, deal_id=deals[0], won_at=NOW + timedelta(days=3)),
        ticket_opened(customer_id),
        deal_won(customer_id, deal_id=deals[1], won_at=NOW - timedelta(days=100)),
        invoice_paid(customer_id, deal_id=deals[0], total="1500.00", paid_at=NOW + timedelta(days=4)),
        deal_won(customer_id, deal_id=deals[2], won_at=NOW + timedelta(days=5)),
    ]


class TestPurchaseRuns:
    @pytest.mark.sqlite
    async def test_a_run_counts_as_facts_one_at_a_time_do(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        """Two customers with a purchase already counted: one gets the facts one at a time, the
        other as one run (with a repeat of a win); both end the same, with the same events in order."""
        alone, batched = await create(client, app), await create(client, app, name="Twin", email="twin@example.com")
        for c in (alone, batched):
            await deliver(app, deal_won(c["id"], won_at=NOW - timedelta(days=30)))
        deals = {c["id"]: [uuid.uuid4() for _ in range(3)] for c in (alone, batched)}
        for fact in _twin_facts(alone["id"], deals[alone["id"]]):
            await deliver(app, fact)
        built = await _run(app, _twin_facts(batched["id"], deals[batched["id"]]), repeat=(0,))
        one, run = await _state(app, alone["id"]), await _state(app, batched["id"])
        assert run == one
        assert run["customer"][:2] == ("loyal", 4) and run["customer"][4] == 4
        assert run["events"] == [
            ("customer.status_changed", "first_time", "deal_won", None),
            ("customer.status_changed", "repeat", "deal_won", None),
            ("loyalty.level_changed", None, None, "gold"),  # published at once, after what came before
            ("customer.status_changed", "loyal", "sustained_buying", None),
        ]
        # Each status change of the run carries its win's trace.
        changes = [e for e in await events(app, "customer.status_changed") if e["subject"] == batched["id"]]
        assert [e["traceparent"][3:35] for e in changes[1:]] == [str(built[i].traceparent)[3:35] for i in (0, 4)]
        h = bearer(app, "boss", "sales_manager")
        kinds = {
            c["id"]: sorted(
                e["kind"]
                for e in (await client.get(f"/v1/customers/{c['id']}/timeline", headers=h)).json()["items"]
                if e["kind"] != "customer.created"
            )
            for c in (alone, batched)
        }
        assert kinds[alone["id"]] == kinds[batched["id"]]

    @pytest.mark.sqlite
    async def test_a_run_over_two_customers_a_merged_and_an_erased_one(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        survivor = await create(client, app, kind="organization", name="Acme", email=None)
        dup = await create(client, app, kind="organization", name="Acme GmbH", email="acme@example.com")
        erased = await create(client, app, name="Gone", email="gone@example.com")
        other = await create(client, app, name="Other", email="other@example.com")
        admin = bearer(app, "a", "admin")
        r = await client.post(f"/v1/customers/{survivor['id']}/merge", json={"duplicate_id": dup["id"]}, headers=admin)
        assert r.status_code == 200, r.text
        r = await client.post(f"/v1/customers/{erased['id']}/erase", json={"reason": "GDPR art. 17"}, headers=admin)
        assert r.status_code == 200, r.text
        twice = uuid.uuid4()
        await _run(
            app,
            [
                deal_won(dup["id"], won_at=at(2026, 1, 1)),  # lands on the survivor (read after the run's lock)
                deal_won(survivor["id"], won_at=at(2026, 2, 1)),
                deal_won(erased["id"], deal_id=twice, won_at=at(2026, 3, 1)),
                deal_won(other["id"], won_at=at(2026, 3, 2)),
                deal_won(erased["id"], deal_id=twice, won_at=at(2026, 3, 1)),  # re-announced under a new id
                deal_won(survivor["id"], won_at=at(2026, 2, 10)),
            ],
        )
        statuses = {c["id"]: (await _state(app, c["id"]))["customer"][:2] for c in (survivor, erased, other)}
        assert statuses == {
            survivor["id"]: ("loyal", 3),
            erased["id"]: ("first_time", 1),
            other["id"]: ("first_time", 1),
        }
        changes = [(e["subject"], e["data"]["to_status"]) for e in await events(app, "customer.status_changed")]
        assert [to for subject, to in changes if subject == survivor["id"]][-3:] == ["first_time", "repeat", "loyal"]
        assert [to for subject, to in changes if subject == erased["id"]] == ["first_time"]
        async with app.state.runtime.sessions() as s:
            assert await s.scalar(select(func.count()).select_from(Purchase)) == 5
