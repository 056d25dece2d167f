"""The desk's customer copy from customer.created, whatever arrived before it (both databases)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal

from fastapi import FastAPI

from tessera_service_desk.known_customers.handlers import on_customer_created, tier_changed_handler
from tessera_service_desk.known_customers.models import KnownCustomer
from tessera_service_desk.settings import ServiceDeskSettings
from tessera_shared.db import unit_of_work
from tessera_shared.events import build_event
from tessera_shared.events.contracts import CustomerCreated, CustomerTierChanged
from tessera_shared.testing.plugin import running

NOW = datetime(2026, 5, 1, tzinfo=UTC)


def created(cid: uuid.UUID, name: str) -> CustomerCreated:
    return CustomerCreated(customer_id=cid, kind="organization", name=name, status="prospect", created_at=NOW)


async def consume(app: FastAPI, data: CustomerCreated | CustomerTierChanged, handler) -> None:
    async with unit_of_work(app.state.runtime.sessions) as s:
        await handler(s, build_event(data, subject=data.customer_id), data)


async def row(app: FastAPI, cid: uuid.UUID) -> KnownCustomer:
    async with app.state.runtime.sessions() as s:
        return await s.get(KnownCustomer, cid)


async def test_creation_names_a_row_made_early_by_a_tier_and_keeps_the_tier(app: FastAPI) -> None:
    cid = uuid.uuid4()
    async with running(app):
        tier = CustomerTierChanged(
            customer_id=cid,
            from_tier="ordinary",
            to_tier="key",
            lifetime_value=Decimal("90000"),
            currency="EUR",
            changed_at=NOW,
        )
        await consume(app, tier, tier_changed_handler(ServiceDeskSettings()))
        assert (await row(app, cid)).name == ""
        await consume(app, created(cid, "Acme"), on_customer_created)
        known = await row(app, cid)
        assert (known.name, known.tier, known.tier_changed_at) == ("Acme", "key", NOW)


async def test_a_second_creation_does_not_rename_and_an_erased_row_stays_erased(app: FastAPI) -> None:
    named, erased = uuid.uuid4(), uuid.uuid4()
    async with running(app):
        await consume(app, created(named, "Acme"), on_customer_created)
        await consume(app, created(named, "Other"), on_customer_created)
        async with unit_of_work(app.state.runtime.sessions) as s:
            s.add(KnownCustomer(customer_id=erased, name="", erased_at=NOW))
        await consume(app, created(erased, "Jane Roe"), on_customer_created)
        first = await row(app, named)
        assert (first.name, first.tier) == ("Acme", "ordinary")
        assert (await row(app, erased)).name == ""


def tier(cid: uuid.UUID, to: str, at: datetime) -> CustomerTierChanged:
    return CustomerTierChanged(
        customer_id=cid, from_tier="ordinary", to_tier=to, lifetime_value=Decimal("100"), currency="EUR", changed_at=at
    )


async def test_a_run_of_tier_changes_keeps_the_newest_per_customer_and_re_tiers_open_tickets_once(app: FastAPI) -> None:
    from datetime import timedelta

    from desk_helpers import open_ticket

    from tessera_service_desk.tickets.models import Ticket

    moving, newer_known, unknown = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    handler = tier_changed_handler(ServiceDeskSettings())
    async with running(app) as client:
        ticket = await open_ticket(client, app, customer_id=str(moving), priority="high")
        await consume(app, tier(newer_known, "key", NOW + timedelta(days=3)), handler)
        run = [
            tier(moving, "key", NOW + timedelta(days=2)),
            tier(newer_known, "small", NOW + timedelta(days=2)),
            tier(unknown, "small", NOW),
            tier(moving, "small", NOW + timedelta(days=1)),
        ]  # the last is older
        async with unit_of_work(app.state.runtime.sessions) as s:
            await handler.apply(s, [(build_event(d, subject=d.customer_id), d) for d in run])
        async with app.state.runtime.sessions() as s:
            retiered = await s.get(Ticket, uuid.UUID(ticket["id"]))
        assert (retiered.tier, retiered.version) == ("key", ticket["version"] + 1)
        assert retiered.resolution_minutes is not None
        assert ((await row(app, moving)).tier, (await row(app, moving)).tier_changed_at) == (
            "key",
            NOW + timedelta(days=2),
        )
        assert (await row(app, newer_known)).tier == "key"  # its newer announcement stands
        made = await row(app, unknown)
        assert (made.name, made.tier) == ("", "small")
