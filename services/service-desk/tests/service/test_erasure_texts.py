"""Erasure reaches every personal text of the desk (docs/domain.md §10.3): a ticket's subject and
description, its comments and escalation notices (they quote the reason), a survey's comment; the
sent outbox copies of the customer's facts go. Categories, priorities and times stay."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from desk_helpers import agent, open_ticket
from fastapi import FastAPI
from sqlalchemy import select

from tessera_service_desk.known_customers.handlers import on_customer_created, on_customer_erased
from tessera_service_desk.sla.models import EscalationNotification
from tessera_service_desk.tickets.models import Ticket, TicketComment
from tessera_shared.db import unit_of_work
from tessera_shared.events import build_event
from tessera_shared.events.contracts import CustomerCreated, CustomerErased
from tessera_shared.infra_tables import outbox
from tessera_shared.testing.plugin import running

NOW = datetime(2026, 5, 1, tzinfo=UTC)
SECRET = "Grace Hopper's secret"


@pytest.mark.sqlite
async def test_erasure_removes_ticket_texts_and_escalation_notices(app: FastAPI) -> None:
    cid = uuid.uuid4()
    async with running(app) as client:
        async with unit_of_work(app.state.runtime.sessions) as s:
            data = CustomerCreated(customer_id=cid, kind="person", name=SECRET, status="prospect", created_at=NOW)
            await on_customer_created.apply(s, [(build_event(data, subject=cid), data)])
        ticket = await open_ticket(
            client, app, customer_id=str(cid), subject=f"About {SECRET}", description=f"{SECRET} called"
        )
        r = await client.post(
            f"/v1/tickets/{ticket['id']}/comments", json={"body": f"{SECRET} again"}, headers=agent(app)
        )
        assert r.status_code == 201, r.text
        r = await client.post(
            f"/v1/tickets/{ticket['id']}/escalations", json={"reason": f"{SECRET} is angry"}, headers=agent(app)
        )
        assert r.status_code == 200, r.text
        async with unit_of_work(app.state.runtime.sessions) as s:
            await s.execute(outbox.update().values(sent_at=NOW))  # the relay has sent them
            erased = CustomerErased(customer_id=cid, requested_by="dpo", erased_at=NOW)
            await on_customer_erased(s, build_event(erased, subject=cid), erased)
        async with app.state.runtime.sessions() as s:
            row = await s.get(Ticket, uuid.UUID(ticket["id"]))
            comments = (await s.scalars(select(TicketComment.body))).all()
            notices = (await s.scalars(select(EscalationNotification.message))).all()
            envelopes = (await s.scalars(select(outbox.c.envelope))).all()
    assert (row.subject, row.description, row.priority) == ("[erased]", "", ticket["priority"])
    assert notices and not any(SECRET in t for t in [*comments, *notices, *envelopes])
