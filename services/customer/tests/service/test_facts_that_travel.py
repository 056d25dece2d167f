"""Facts that travel (docs/domain.md §10.6) and erasure of later facts (§10.3): the timeline shows
deal creation and stage changes, write-offs and credit flags, each under the read rule of the
service it came from; an erased customer's later facts carry no text."""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from services.customer.tests.helpers import NOW, create, deal_lost, deliver, overdue
from tessera_customer.value.models import CustomerSignals
from tessera_shared.events.contracts import (
    CreditLimitExceeded,
    DealCreated,
    DealStageChanged,
    InvoiceWrittenOff,
)
from tessera_shared.infra_tables import outbox
from tessera_shared.testing.plugin import bearer, running


def travelling_facts(cid: uuid.UUID, owner: str) -> list:
    deal = uuid.uuid4()
    invoice = uuid.uuid4()
    eur = {"currency": "EUR"}
    return [
        DealCreated(
            deal_id=deal,
            customer_id=cid,
            title=f"{owner}'s deal",
            amount=Decimal(500),
            stage="prospecting",
            probability=10,
            owner_id=owner,
            created_at=NOW,
            **eur,
        ),
        DealStageChanged(
            deal_id=deal,
            customer_id=cid,
            from_stage="prospecting",
            to_stage="proposal",
            probability=50,
            amount=Decimal(500),
            changed_by=owner,
            changed_at=NOW + timedelta(minutes=1),
            owner_id=owner,
            **eur,
        ),
        InvoiceWrittenOff(
            invoice_id=invoice,
            number="INV-9",
            customer_id=cid,
            amount=Decimal(80),
            requested_by="clerk",
            approved_by="fm",
            written_off_at=NOW + timedelta(minutes=2),
            **eur,
        ),
        CreditLimitExceeded(
            customer_id=cid,
            deal_id=deal,
            requested_amount=Decimal(500),
            exposure=Decimal(1200),
            credit_limit=Decimal(1000),
            detected_at=NOW + timedelta(minutes=3),
            **eur,
        ),
    ]


async def kinds(client: httpx.AsyncClient, app: FastAPI, cid: str, *who: str) -> list[str]:
    r = await client.get(f"/v1/customers/{cid}/timeline", params={"limit": 100}, headers=bearer(app, *who))
    assert r.status_code == 200, r.text
    return [e["kind"] for e in r.json()["items"] if e["source"] != "customer"]


@pytest.mark.sqlite
async def test_deals_write_offs_and_credit_flags_reach_the_timeline_under_their_source_rules(app: FastAPI) -> None:
    async with running(app) as client:
        c = await create(client, app, who=("rep2", "sales_rep"))
        cid = uuid.UUID(c["id"])
        await deliver(app, overdue(c["id"]))
        rep2_facts = travelling_facts(cid, "rep2")
        for fact in [*rep2_facts, *travelling_facts(cid, "rep1")]:
            await deliver(app, fact)
        for fact in rep2_facts:  # re-announced under new event ids: recorded once
            await deliver(app, fact)
        everything = await kinds(client, app, c["id"], "a", "admin")
        assert everything.count("deal.created") == 2
        assert everything.count("deal.stage_changed") == 2
        assert everything.count("invoice.written_off") == 2 and everything.count("credit.limit_exceeded") == 2
        # sales' owner rule: a rep reads their own deals' entries; billing's rules: a rep reads credit
        # flags, not write-offs; a clerk reads write-offs and credit flags, no deals.
        rep1 = await kinds(client, app, c["id"], "rep1", "sales_rep")
        assert sorted(k for k in rep1 if k.startswith("deal.")) == ["deal.created", "deal.stage_changed"]
        assert "invoice.written_off" not in rep1 and rep1.count("credit.limit_exceeded") == 2
        clerk = await kinds(client, app, c["id"], "bc", "billing_clerk")
        assert not any(k.startswith("deal.") for k in clerk)
        assert clerk.count("invoice.written_off") == 2 and clerk.count("credit.limit_exceeded") == 2
        manager = await kinds(client, app, c["id"], "sm", "sales_manager")
        assert manager.count("deal.stage_changed") == 2 and "invoice.written_off" not in manager


async def test_a_written_off_invoice_leaves_the_overdue_signal(app: FastAPI) -> None:
    async with running(app) as client:
        c = await create(client, app)
        invoice = uuid.uuid4()
        await deliver(app, overdue(c["id"], invoice))
        [*_, written_off, _] = travelling_facts(uuid.UUID(c["id"]), "rep1")
        await deliver(app, written_off.model_copy(update={"invoice_id": invoice}))
        async with app.state.runtime.sessions() as s:
            signals = await s.get(CustomerSignals, uuid.UUID(c["id"]))
        assert signals is not None and signals.overdue_invoices == []


async def test_an_erased_customers_later_facts_carry_no_text(app: FastAPI) -> None:
    async with running(app) as client:
        c = await create(client, app, name="Ada secretive")
        await deliver(app, deal_lost(c["id"], reason="Ada's secret reason"))
        async with app.state.runtime.sessions() as s, s.begin():
            await s.execute(outbox.update().values(sent_at=NOW))  # the relay has sent them
        r = await client.post(
            f"/v1/customers/{c['id']}/erase", json={"reason": "art. 17 request"}, headers=bearer(app, "a", "admin")
        )
        assert r.status_code == 200, r.text
        [created, *_] = travelling_facts(uuid.UUID(c["id"]), "rep1")
        await deliver(app, created.model_copy(update={"title": "Ada's secret deal"}))
        await deliver(app, deal_lost(c["id"], reason="Ada's second secret"))
        r = await client.get(f"/v1/customers/{c['id']}/timeline", headers=bearer(app, "a", "admin"))
        entries = r.json()["items"]
        assert "secret" not in r.text
        assert {e["kind"] for e in entries} >= {"deal.created", "deal.lost"}
        async with app.state.runtime.sessions() as s:
            signals = await s.get(CustomerSignals, uuid.UUID(c["id"]))
        assert signals is not None and signals.lost_deals == 2 and signals.lost_reasons == {"[erased]": 2}
        async with app.state.runtime.sessions() as s:
            envelopes = (await s.scalars(select(outbox.c.envelope))).all()
        assert envelopes and not any("secret" in e for e in envelopes)  # customer.created's copy is gone
