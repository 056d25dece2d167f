"""/v1/tickets and /v1/tickets/{id}: create, read, list, patch with the status machine."""

from __future__ import annotations

import uuid
from datetime import timedelta

import httpx
from desk_helpers import PROBLEM, admin, agent, count, events, open_ticket, partner, patch, ticket_payload
from fastapi import FastAPI

from tessera_service_desk.known_customers.models import KnownCustomer
from tessera_service_desk.surveys.models import Survey
from tessera_service_desk.tickets.models import Ticket
from tessera_shared.testing.plugin import bearer


async def know(app: FastAPI, customer_id: str, tier: str = "ordinary") -> None:
    async with app.state.runtime.sessions() as s:
        s.add(KnownCustomer(customer_id=uuid.UUID(customer_id), name="Acme", tier=tier))
        await s.commit()


class TestCreateTicket:
    async def test_opens_with_event_and_sla(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        r = await client.post("/v1/tickets", json=ticket_payload(channel="phone", category="fault"), headers=agent(app))
        assert r.status_code == 201, r.text
        body = r.json()
        assert (body["status"], body["priority"], body["channel"]) == ("new", "normal", "phone")
        assert r.headers["location"] == f"/v1/tickets/{body['id']}"
        assert r.headers["etag"] == f'"{body["id"]}.1"'
        assert "closed" in body["allowed_transitions"]
        assert await events(app) == ["ticket.opened"]

    async def test_key_customer_complaint_starts_one_higher(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        customer = str(uuid.uuid4())
        await know(app, customer, tier="key")
        body = await open_ticket(client, app, customer_id=customer, category="complaint", priority="high")
        assert (body["requested_priority"], body["priority"], body["tier"]) == ("high", "urgent", "key")
        plain = await open_ticket(client, app, customer_id=customer, category="inquiry", priority="high")
        assert plain["priority"] == "high"

    async def test_billing_dispute_must_name_invoice(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        r = await client.post("/v1/tickets", json=ticket_payload(category="billing_dispute"), headers=agent(app))
        assert r.status_code == 422
        assert r.json()["errors"][0]["field"] == "invoice_id"
        r = await client.post("/v1/tickets", json=ticket_payload(invoice_id=str(uuid.uuid4())), headers=agent(app))
        assert r.status_code == 422
        assert await count(app, Ticket) == 0
        invoice = str(uuid.uuid4())
        ok = await open_ticket(client, app, category="billing_dispute", invoice_id=invoice)
        assert ok["invoice_id"] == invoice

    async def test_bad_input_names_fields(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        r = await client.post(
            "/v1/tickets",
            json={"customer_id": "nope", "subject": "", "priority": "asap", "colour": "red"},
            headers=agent(app),
        )
        assert r.status_code == 422
        assert r.headers["content-type"] == PROBLEM
        assert {e["field"] for e in r.json()["errors"]} == {"customer_id", "subject", "priority", "colour"}
        r = await client.post("/v1/tickets", json=ticket_payload(subject="nul\u0000byte"), headers=agent(app))
        assert (r.status_code, r.json()["errors"][0]["field"]) == (422, "subject")  # PostgreSQL text holds no NUL

    async def test_merged_customer_is_refused(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        customer, survivor = uuid.uuid4(), uuid.uuid4()
        async with app.state.runtime.sessions() as s:
            s.add(KnownCustomer(customer_id=customer, name="Old", merged_into=survivor))
            await s.commit()
        r = await client.post("/v1/tickets", json=ticket_payload(customer_id=str(customer)), headers=agent(app))
        assert r.status_code == 422
        assert str(survivor) in r.json()["errors"][0]["message"]

    async def test_auth(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        assert (await client.post("/v1/tickets", json=ticket_payload())).status_code == 401
        r = await client.post("/v1/tickets", json=ticket_payload(), headers=bearer(app, "rep", "sales_rep"))
        assert r.status_code == 403
        assert await count(app, Ticket) == 0

    async def test_idempotency_key_replays(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        headers = {**agent(app), "Idempotency-Key": "t-1"}
        payload = ticket_payload()
        first = await client.post("/v1/tickets", json=payload, headers=headers)
        second = await client.post("/v1/tickets", json=payload, headers=headers)
        assert second.json() == first.json()
        assert second.headers["idempotent-replayed"] == "true"
        assert await count(app, Ticket) == 1


class TestGetTicket:
    async def test_detail_has_sla_and_history(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        customer = str(uuid.uuid4())
        older = await open_ticket(client, app, customer_id=customer, subject="First problem")
        await open_ticket(client, app)  # another customer's ticket stays out of the history
        current = await open_ticket(client, app, customer_id=customer, subject="Second problem")
        r = await client.get(f"/v1/tickets/{current['id']}", headers=bearer(app, "fin", "finance_manager"))
        assert r.status_code == 200
        body = r.json()
        assert r.headers["etag"] == f'"{current["id"]}.1"'
        assert [h["id"] for h in body["history"]] == [older["id"]]
        assert body["history"][0]["subject"] == "First problem"
        sla = body["sla"]
        assert sla["resolution"]["target_minutes"] == 2880  # the default for normal priority
        assert sla["resolution"]["state"] in ("running", "breached")
        assert sla["next_response"]["state"] == "not_applicable"

    async def test_errors(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        assert (await client.get(f"/v1/tickets/{uuid.uuid4()}")).status_code == 401
        assert (await client.get(f"/v1/tickets/{uuid.uuid4()}", headers=partner(app))).status_code == 403
        r = await client.get(f"/v1/tickets/{uuid.uuid4()}", headers=agent(app))
        assert (r.status_code, r.headers["content-type"]) == (404, PROBLEM)
        r = await client.get("/v1/tickets/not-a-uuid", headers=agent(app))
        assert r.status_code == 422
        assert r.json()["errors"][0]["field"] == "ticket_id"


class TestListTickets:
    async def test_filters_and_cursor(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        customer = str(uuid.uuid4())
        mine = [(await open_ticket(client, app, customer_id=customer))["id"] for _ in range(5)]
        await open_ticket(client, app)
        seen, cursor = [], None
        while True:
            params: dict[str, str | int] = {
                "customer_id": customer,
                "limit": 2,
                **({"cursor": cursor} if cursor else {}),
            }
            page = (await client.get("/v1/tickets", params=params, headers=agent(app))).json()
            seen += [t["id"] for t in page["items"]]
            if (cursor := page["next_cursor"]) is None:
                break
        assert seen == mine
        r = await client.get("/v1/tickets", params={"status": "closed"}, headers=agent(app))
        assert r.json()["items"] == []

    async def test_errors(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        assert (await client.get("/v1/tickets")).status_code == 401
        assert (await client.get("/v1/tickets", headers=partner(app))).status_code == 403
        r = await client.get("/v1/tickets?status=lost&limit=500", headers=agent(app))
        assert r.status_code == 422
        assert {e["field"] for e in r.json()["errors"]} == {"status", "limit"}


class TestPatchTicket:
    async def test_solve_then_close_sends_survey_and_event(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        t = await open_ticket(client, app, assignee_id="agent7")
        r = await patch(client, app, t["id"], status="solved")
        assert (r.status_code, r.json()["status"], r.json()["version"]) == (200, "solved", 2)
        r = await patch(client, app, t["id"], status="closed")
        body = r.json()
        assert body["status"] == "closed"
        assert body["survey_url"].startswith(f"/api/v1/surveys/{body['survey_id']}?token=")
        # The move to solved is ticket.updated; the close is ticket.closed alone.
        assert await events(app) == ["ticket.opened", "ticket.updated", "ticket.closed"]
        assert await count(app, Survey) == 1

    async def test_direct_close_is_allowed(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        t = await open_ticket(client, app)
        assert (await patch(client, app, t["id"], status="closed")).json()["status"] == "closed"
        assert await count(app, Survey) == 1

    async def test_refused_transition_is_409_listing_allowed(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        t = await open_ticket(client, app)
        await patch(client, app, t["id"], status="solved")
        r = await patch(client, app, t["id"], status="pending")
        assert (r.status_code, r.headers["content-type"]) == (409, PROBLEM)
        problem = r.json()
        assert problem["type"] == "urn:tessera:problem:invalid-transition"
        assert (problem["current"], problem["requested"], problem["allowed"]) == (
            "solved",
            "pending",
            ["open", "closed"],
        )
        assert not {"current_status", "requested_status", "allowed_transitions"} & set(problem)
        await patch(client, app, t["id"], status="closed")
        r = await patch(client, app, t["id"], status="open")
        problem = r.json()
        assert (r.status_code, problem["type"]) == (409, "urn:tessera:problem:invalid-transition")
        assert (problem["current"], problem["requested"], problem["allowed"]) == ("closed", "open", [])
        assert problem["detail"] == "a closed ticket is final; open a new ticket"
        # A closed ticket is final for every field: a change naming no status asks it to stay closed.
        r = await patch(client, app, t["id"], subject="Still broken")
        problem = r.json()
        assert (r.status_code, problem["type"]) == (409, "urn:tessera:problem:invalid-transition")
        assert (problem["current"], problem["requested"], problem["allowed"]) == ("closed", "closed", [])
        assert await count(app, Survey) == 1

    async def test_reopen_after_the_window_is_refused(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        t = await open_ticket(client, app)
        await patch(client, app, t["id"], status="solved")
        async with app.state.runtime.sessions() as s:
            ticket = await s.get(Ticket, uuid.UUID(t["id"]))
            assert ticket is not None and ticket.solved_at is not None
            ticket.solved_at -= timedelta(hours=app.state.settings.reopen_window_hours, seconds=1)
            await s.commit()
        r = await patch(client, app, t["id"], status="open")
        problem = r.json()
        assert (r.status_code, problem["type"]) == (409, "urn:tessera:problem:invalid-transition")
        assert (problem["current"], problem["requested"], problem["allowed"]) == ("solved", "open", ["closed"])
        assert "reopen window" in problem["detail"]

    async def test_reopen_within_window(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        t = await open_ticket(client, app)
        await patch(client, app, t["id"], status="solved")
        r = await patch(client, app, t["id"], status="open")
        assert (r.json()["status"], r.json()["reopened_count"], r.json()["solved_at"]) == ("open", 1, None)

    async def test_if_match(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        t = await open_ticket(client, app)
        stale = f'"{t["id"]}.1"'
        r = await client.patch(
            f"/v1/tickets/{t['id']}",
            json={"assignee_id": "a2", "group": "tier1"},
            headers={**agent(app), "If-Match": stale},
        )
        assert (r.status_code, r.json()["assignee_id"], r.json()["group"]) == (200, "a2", "tier1")
        assert r.headers["etag"] == f'"{t["id"]}.2"'
        r = await client.patch(
            f"/v1/tickets/{t['id']}", json={"priority": "low"}, headers={**agent(app), "If-Match": stale}
        )
        assert r.status_code == 412

    async def test_priority_change_resolves_the_policy_again(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        t = await open_ticket(client, app)
        r = await patch(client, app, t["id"], priority="urgent")
        assert r.json()["sla"]["resolution"]["target_minutes"] == 480

    async def test_errors(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        t = await open_ticket(client, app)
        url = f"/v1/tickets/{t['id']}"
        assert (await client.patch(url, json={"status": "open"})).status_code == 401
        r = await client.patch(url, json={"status": "open"}, headers=bearer(app, "m", "sales_manager"))
        assert r.status_code == 403
        r = await client.patch(f"/v1/tickets/{uuid.uuid4()}", json={"status": "open"}, headers=admin(app))
        assert r.status_code == 404
        for body, field in (
            ({}, "body"),
            ({"status": None}, "status"),
            ({"status": "done"}, "status"),
            ({"owner": "x"}, "owner"),
        ):
            r = await client.patch(url, json=body, headers=agent(app))
            assert r.status_code == 422, body
            assert r.json()["errors"][0]["field"] == field
