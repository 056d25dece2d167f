"""Every change a client can see is an event (docs/domain.md §6.2): a PATCH of a deal, a lead or an
activity publishes exactly one ``*.updated`` naming the fields it changed with their new values,
keyed as the entity's other events; a PATCH that changes nothing publishes nothing."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tessera_sales.testing import Api

# The whole module runs on SQLite too (the sqlite marker: new endpoints' successes are proven there).
pytestmark = pytest.mark.sqlite

NOT_UPDATES = {"deal.created", "lead.created", "activity.logged"}


async def patch(api: Api, path: str, body: dict[str, Any]) -> dict[str, Any]:
    r = await api.client.patch(path, json=body, headers=api.rep1)
    assert r.status_code == 200, r.text
    return r.json()


async def published_after(api: Api, before: int) -> list[dict[str, Any]]:
    return (await api.events())[before:]


class TestDealUpdated:
    async def test_an_amount_change_is_one_deal_updated_with_the_new_amount(self, api: Api) -> None:
        deal = await api.deal(amount="1000.00")
        before = len(await api.events())
        out = await patch(api, f"/v1/deals/{deal['id']}", {"amount": "1250.50", "title": deal["title"]})
        [event] = await published_after(api, before)
        assert event["type"] == "deal.updated"
        assert event["key"] == deal["customer_id"] == event["subject"]
        data = event["data"]
        # The title was sent unchanged: only the amount is named.
        assert data["changes"] == {"amount": "1250.50"}
        assert (data["deal_id"], data["customer_id"], data["owner_id"]) == (deal["id"], deal["customer_id"], "rep1")
        assert (data["currency"], data["version"], data["updated_by"]) == ("EUR", out["version"], "rep1")

    async def test_a_patch_with_equal_values_publishes_nothing(self, api: Api) -> None:
        deal = await api.deal(amount="1000.00", expected_close_date="2026-03-15")
        before = len(await api.events())
        await patch(
            api,
            f"/v1/deals/{deal['id']}",
            {"amount": "1000", "title": deal["title"], "expected_close_date": "2026-03-15", "owner_id": "rep1"},
        )
        assert await published_after(api, before) == []

    async def test_cleared_and_changed_fields_are_named_unchanged_ones_are_not(self, api: Api) -> None:
        deal = await api.deal(expected_close_date="2026-03-15")
        before = len(await api.events())
        await patch(api, f"/v1/deals/{deal['id']}", {"expected_close_date": None, "payment_terms_days": 45})
        [event] = await published_after(api, before)
        assert event["data"]["changes"] == {"expected_close_date": None, "payment_terms_days": 45}

    async def test_a_stage_move_alone_is_deal_stage_changed_only(self, api: Api) -> None:
        deal = await api.deal()
        before = len(await api.events())
        await patch(api, f"/v1/deals/{deal['id']}", {"stage": "proposal"})
        assert [e["type"] for e in await published_after(api, before)] == ["deal.stage_changed"]

    async def test_a_stage_move_with_a_new_title_announces_the_title_beside_the_move(self, api: Api) -> None:
        deal = await api.deal()
        before = len(await api.events())
        await patch(api, f"/v1/deals/{deal['id']}", {"stage": "proposal", "title": "Renamed"})
        events = await published_after(api, before)
        assert [e["type"] for e in events] == ["deal.stage_changed", "deal.updated"]
        assert events[1]["data"]["changes"] == {"title": "Renamed"}

    async def test_new_lines_carry_the_new_list_and_amount(self, api: Api) -> None:
        deal = await api.deal(amount=None, line_items=[{"description": "Seats", "quantity": "2", "unit_price": "10"}])
        before = len(await api.events())
        lines = [{"description": "Seats", "quantity": "3", "unit_price": "10"}]
        await patch(api, f"/v1/deals/{deal['id']}", {"line_items": lines})
        [event] = await published_after(api, before)
        changes = event["data"]["changes"]
        assert changes["amount"] == "30.00"
        assert [(x["description"], x["quantity"], x["unit_price"]) for x in changes["line_items"]] == [
            ("Seats", "3", "10")
        ]
        # The same lines again: nothing changed.
        before = len(await api.events())
        await patch(api, f"/v1/deals/{deal['id']}", {"line_items": lines})
        assert await published_after(api, before) == []


class TestLeadUpdated:
    async def test_a_change_is_one_lead_updated_keyed_by_the_lead(self, api: Api) -> None:
        r = await api.client.post(
            "/v1/leads", json={"name": "Grace Hopper", "source": "referral", "company": "Navy"}, headers=api.rep1
        )
        assert r.status_code == 201, r.text
        lead = r.json()
        before = len(await api.events())
        out = await patch(api, f"/v1/leads/{lead['id']}", {"company": "Navy Labs", "name": "Grace Hopper"})
        [event] = await published_after(api, before)
        assert event["type"] == "lead.updated" and event["key"] == lead["id"]
        data = event["data"]
        assert data["changes"] == {"company": "Navy Labs"}
        assert (data["lead_id"], data["owner_id"], data["version"]) == (lead["id"], "rep1", out["version"])

    async def test_a_change_that_moves_the_score_names_the_score(self, api: Api) -> None:
        r = await api.client.post("/v1/leads", json={"name": "Ada", "source": "other"}, headers=api.rep1)
        lead = r.json()
        before = len(await api.events())
        out = await patch(api, f"/v1/leads/{lead['id']}", {"email": "ada@example.com", "title": "CTO"})
        assert out["score"] != lead["score"]
        [event] = await published_after(api, before)
        assert event["data"]["changes"] == {"title": "CTO", "email": "ada@example.com", "score": out["score"]}

    async def test_equal_values_publish_nothing(self, api: Api) -> None:
        r = await api.client.post("/v1/leads", json={"name": "Ada", "source": "other"}, headers=api.rep1)
        lead = r.json()
        before = len(await api.events())
        await patch(api, f"/v1/leads/{lead['id']}", {"name": "Ada", "source": "other"})
        assert await published_after(api, before) == []


class TestActivityUpdated:
    async def test_completing_a_task_is_one_activity_updated(self, api: Api) -> None:
        customer = str(uuid.uuid4())
        r = await api.client.post(
            "/v1/activities",
            json={"kind": "task", "subject": "Send the proposal", "customer_id": customer},
            headers=api.rep1,
        )
        assert r.status_code == 201, r.text
        activity = r.json()
        before = len(await api.events())
        await patch(api, f"/v1/activities/{activity['id']}", {"completed": True, "subject": "Send the proposal"})
        [event] = await published_after(api, before)
        assert (event["type"], event["key"]) == ("activity.updated", customer)
        assert event["data"]["changes"] == {"completed": True}
        assert (event["data"]["kind"], event["data"]["customer_id"]) == ("task", customer)
        # Completing it again changes nothing.
        before = len(await api.events())
        await patch(api, f"/v1/activities/{activity['id']}", {"completed": True})
        assert await published_after(api, before) == []
