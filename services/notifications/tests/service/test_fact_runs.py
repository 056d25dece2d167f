"""A run of business facts handled at once (the consumer hands a poll's facts over as one run):
the copies they keep are written together, yet a fact is routed by the copies as they stood after
it; each fact is routed once, under its own trace."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import orjson
import pytest
from notifications_helpers import deal_created, invoice_issued, user
from sqlalchemy import select

from tessera_notifications.copies.models import DealCopy, InvoiceCopy
from tessera_shared.consumer import Batched
from tessera_shared.db import unit_of_work
from tessera_shared.events import build_event
from tessera_shared.events.contracts import DealStageChanged, DealWon, InvoiceOverdue
from tessera_shared.infra_tables import outbox
from tessera_shared.trace_context import new_traceparent


def _overdue(invoice_id: uuid.UUID, customer_id: uuid.UUID, days: int) -> InvoiceOverdue:
    return InvoiceOverdue(
        invoice_id=invoice_id,
        number="INV-7",
        customer_id=customer_id,
        amount_due=Decimal("9.00"),
        currency="EUR",
        due_date=datetime.now(UTC).date(),
        days_overdue=days,
        detected_at=datetime.now(UTC),
    )


def _moved(deal_id: uuid.UUID, customer_id: uuid.UUID, owner: str | None) -> DealStageChanged:
    return DealStageChanged(
        deal_id=deal_id,
        customer_id=customer_id,
        from_stage="qualification",
        to_stage="proposal",
        probability=40,
        amount=Decimal("10.00"),
        currency="EUR",
        changed_by="rep1",
        changed_at=datetime.now(UTC),
        owner_id=owner,
    )


@pytest.mark.sqlite
async def test_a_run_routes_each_fact_by_the_copies_as_they_stood_after_it(app, client) -> None:
    customer_id, deal_id, invoice_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    facts: list[Any] = [
        deal_created(deal_id, customer_id, "rep2"),
        invoice_issued(invoice_id, customer_id, deal_id),
        _overdue(invoice_id, customer_id, 4),  # the deal is rep2's: rep2
        _moved(deal_id, customer_id, "rep3"),
        _overdue(invoice_id, customer_id, 5),  # the deal is rep3's now: rep3
        DealWon(  # names no owner: the copy keeps rep3
            deal_id=deal_id,
            customer_id=customer_id,
            title="Big one",
            amount=Decimal("10.00"),
            currency="EUR",
            line_items=[],
            won_at=datetime.now(UTC),
        ),
    ]
    run = [build_event(d, subject=customer_id, traceparent=new_traceparent()) for d in facts]
    handlers = app.state.runtime.spec.handlers
    handler = handlers["deal.won"]
    # One handler for every business type (with the webhooks' fan-out): a poll's facts are one run.
    assert isinstance(handler, Batched) and handlers["invoice.overdue"] is handler and handler.limit == 64
    async with unit_of_work(app.state.runtime.sessions) as session:
        await handler.many(session, [(e, e.typed_data()) for e in run])

    for name in ("rep2", "rep3"):
        items = (await client.get("/v1/notifications", headers=user(app, name, "sales_rep"))).json()["items"]
        assert [n["title"] for n in items] == ["Invoice INV-7 overdue"]
    async with app.state.runtime.sessions() as s:
        deal = await s.get(DealCopy, deal_id)
        invoice = await s.get(InvoiceCopy, invoice_id)
        assert deal is not None and (deal.owner_id, deal.customer_id) == ("rep3", customer_id)
        assert invoice is not None and (invoice.deal_id, invoice.number) == (deal_id, "INV-7")
        sent = [
            orjson.loads(e)
            for e in (
                await s.scalars(
                    select(outbox.c.envelope).where(outbox.c.event_type == "notification.sent").order_by(outbox.c.seq)
                )
            ).all()
        ]
    # Each announcement is its own fact's: its recipient, its source event, its trace.
    assert [(e["data"]["recipient"], e["data"]["source_event_id"]) for e in sent] == [
        ("rep2", run[2].id),
        ("rep3", run[4].id),
    ]
    assert [e["traceparent"][3:35] for e in sent] == [str(run[i].traceparent)[3:35] for i in (2, 4)]


async def test_a_run_keeps_what_one_fact_at_a_time_keeps(app, client) -> None:
    """The same facts one at a time and as a run leave the same copies (a later empty value
    keeps the stored one; a later value replaces it)."""
    handler = app.state.runtime.spec.handlers["deal.created"]
    alone, batched = uuid.uuid4(), uuid.uuid4()
    customer_id = uuid.uuid4()

    def facts(deal_id: uuid.UUID) -> list[Any]:
        return [
            _moved(deal_id, customer_id, None),
            deal_created(deal_id, customer_id, "rep2"),
            _moved(deal_id, customer_id, None),
        ]

    for data in facts(alone):
        event = build_event(data, subject=customer_id)
        async with unit_of_work(app.state.runtime.sessions) as session:
            await handler(session, event, event.typed_data())
    run = [build_event(d, subject=customer_id) for d in facts(batched)]
    async with unit_of_work(app.state.runtime.sessions) as session:
        await handler.many(session, [(e, e.typed_data()) for e in run])
    async with app.state.runtime.sessions() as s:
        copies = [await s.get(DealCopy, d) for d in (alone, batched)]
    assert [(c.owner_id, c.customer_id) for c in copies if c is not None] == [("rep2", customer_id)] * 2
