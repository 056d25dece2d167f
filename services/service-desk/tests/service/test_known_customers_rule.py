"""Known customers only (docs/domain.md §10.2) at the desk: a ticket or an agreement names a customer
the desk knows, or one the customer service confirms (read through, then kept)."""

from __future__ import annotations

import uuid

import pytest
from desk_helpers import PROBLEM, admin, agent, count, ticket_payload
from fastapi import FastAPI
from httpx import AsyncClient

from tessera_service_desk.known_customers.models import KnownCustomer
from tessera_service_desk.settings import ServiceDeskSettings
from tessera_service_desk.tickets.models import Ticket
from tessera_shared.customer_directory import HttpCustomerDirectory
from tessera_shared.testing.customers import open_transactions


async def kept(app: FastAPI, customer_id: uuid.UUID) -> KnownCustomer | None:
    async with app.state.runtime.sessions() as s:
        return await s.get(KnownCustomer, customer_id)


class TestTickets:
    @pytest.mark.sqlite
    async def test_an_unseen_customer_is_read_through_and_kept(self, app: FastAPI, client: AsyncClient) -> None:
        stub = app.state.customer_directory
        customer_id = uuid.uuid4()
        stub.add(customer_id, "Ada Ltd")
        r = await client.post("/v1/tickets", json=ticket_payload(customer_id=str(customer_id)), headers=agent(app))
        assert r.status_code == 201, r.text
        row = await kept(app, customer_id)
        assert row is not None and row.name == "Ada Ltd" and row.tier == "ordinary"
        r = await client.post("/v1/tickets", json=ticket_payload(customer_id=str(customer_id)), headers=agent(app))
        assert r.status_code == 201 and stub.reads == [customer_id]  # known now: no second call

    async def test_refusals(self, app: FastAPI, client: AsyncClient) -> None:
        stub = app.state.customer_directory
        missing, merged, survivor = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
        stub.missing.add(missing)
        stub.merged[merged] = survivor
        r = await client.post("/v1/tickets", json=ticket_payload(customer_id=str(missing)), headers=agent(app))
        assert (r.status_code, r.headers["content-type"]) == (422, PROBLEM)
        assert (r.json()["errors"][0]["field"], r.json()["errors"][0]["message"]) == ("customer_id", "no such customer")
        r = await client.post("/v1/tickets", json=ticket_payload(customer_id=str(merged)), headers=agent(app))
        assert r.status_code == 422 and str(survivor) in r.json()["errors"][0]["message"]
        app.state.customer_directory = HttpCustomerDirectory(
            ServiceDeskSettings(customer_url="http://127.0.0.1:1", gateway_url="http://127.0.0.1:1")
        )
        r = await client.post("/v1/tickets", json=ticket_payload(), headers=agent(app))
        assert (r.status_code, r.headers["retry-after"]) == (503, "5")
        assert r.json()["type"] == "urn:tessera:problem:upstream-unavailable"
        assert await count(app, Ticket) == 0 and await count(app, KnownCustomer) == 0


class TestAgreements:
    async def test_an_agreement_for_no_such_customer_makes_no_row(self, app: FastAPI, client: AsyncClient) -> None:
        stub = app.state.customer_directory
        missing = uuid.uuid4()
        stub.missing.add(missing)
        url = "/v1/sla-policies/agreements/{}"
        r = await client.put(url.format(missing), json={"service_level": "gold"}, headers=admin(app))
        assert r.status_code == 422
        assert (r.json()["errors"][0]["field"], r.json()["errors"][0]["location"]) == ("customer_id", "path")
        assert await kept(app, missing) is None
        known = uuid.uuid4()
        r = await client.put(url.format(known), json={"service_level": "gold"}, headers=admin(app))
        assert r.status_code == 200 and r.json()["service_level"] == "gold"
        row = await kept(app, known)
        assert row is not None and row.service_level == "gold"
        stub.down = True
        r = await client.put(url.format(uuid.uuid4()), json={"service_level": "gold"}, headers=admin(app))
        assert r.status_code == 503 and "retry-after" in r.headers


class TestNoTransactionDuringTheReadThrough:
    """The read-through runs before the write's transaction opens: while the customer service is
    asked, no session of the desk's database sits in a transaction (docs/domain.md §10.2)."""

    @pytest.mark.parametrize("write", ["ticket", "agreement"])
    async def test_no_session_is_idle_in_transaction_while_the_customer_service_answers(
        self, app: FastAPI, client: AsyncClient, write: str
    ) -> None:
        stub = app.state.customer_directory
        seen: list[list[str]] = []

        async def probe(_: uuid.UUID) -> None:
            seen.append(await open_transactions(app.state.runtime.sessions))

        stub.while_answering = probe
        customer_id = uuid.uuid4()
        if write == "ticket":
            headers = {**agent(app), "Idempotency-Key": str(uuid.uuid4())}
            r = await client.post("/v1/tickets", json=ticket_payload(customer_id=str(customer_id)), headers=headers)
        else:
            url = f"/v1/sla-policies/agreements/{customer_id}"
            r = await client.put(url, json={"service_level": "gold"}, headers=admin(app))
        assert r.status_code in (200, 201), r.text
        assert stub.reads == [customer_id] and seen == [[]]
