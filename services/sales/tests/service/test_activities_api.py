"""/v1/activities: logging, tasks with reminders (activity.due once), overdue lists, collection tasks."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from tessera_sales.activities.models import Activity
from tessera_sales.testing import PROBLEM, Api, overdue_event
from tessera_shared.events.contracts import CustomerCreated, DunningStep

# Dialect branches (SQL that differs on SQLite): the whole module runs on both databases.
pytestmark = pytest.mark.sqlite

T0 = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)


def task(**overrides: Any) -> dict[str, Any]:
    return {
        "kind": "task",
        "subject": "Send the proposal",
        "customer_id": str(uuid.uuid4()),
        "due_at": (T0 + timedelta(days=1)).isoformat(),
        "remind_at": T0.isoformat(),
        **overrides,
    }


async def log(api: Api, headers: dict[str, str] | None = None, **overrides: Any) -> dict[str, Any]:
    r = await api.client.post("/v1/activities", json=task(**overrides), headers=headers or api.rep1)
    assert r.status_code == 201, r.text
    return r.json()


class TestLogActivity:
    async def test_logs_against_a_deal_and_publishes(self, api: Api) -> None:
        deal = await api.deal()
        activity = await log(api, kind="call", customer_id=None, deal_id=deal["id"], due_at=None, remind_at=None)
        assert activity["customer_id"] == deal["customer_id"] and activity["owner_id"] == "rep1"
        [event] = await api.events("activity.logged")
        assert event["subject"] == deal["customer_id"] and event["data"]["kind"] == "call"

    async def test_lead_activity_raises_engagement_score(self, api: Api) -> None:
        lead = (
            await api.client.post("/v1/leads", json={"name": "Lin", "source": "cold_call"}, headers=api.rep1)
        ).json()
        await log(api, kind="email", customer_id=None, lead_id=lead["id"], due_at=None, remind_at=None)
        after = (await api.client.get(f"/v1/leads/{lead['id']}", headers=api.rep1)).json()
        assert after["engagement_count"] == 1 and after["score"] == lead["score"] + 5

    async def test_bad_input(self, api: Api) -> None:
        cases = [
            (task(customer_id=None), "customer_id"),
            (task(remind_at=(T0 + timedelta(days=3)).isoformat()), "remind_at"),
            (task(kind="lunch"), "kind"),
            (task(due_at="2026-05-01T09:00:00"), "due_at"),  # no time zone
            (task(deal_id=str(uuid.uuid4())), "deal_id"),
        ]
        for body, field in cases:
            r = await api.client.post("/v1/activities", json=body, headers=api.rep1)
            assert r.status_code == 422, (body, r.text)
            assert r.headers["content-type"] == PROBLEM
            assert field in {e["field"] for e in r.json()["errors"]}
        assert await api.count(Activity) == 0

    async def test_auth_and_row_rules(self, api: Api) -> None:
        assert (await api.client.post("/v1/activities", json=task())).status_code == 401
        r = await api.client.post("/v1/activities", json=task(), headers=api.as_("c", "billing_clerk"))
        assert r.status_code == 403
        mine = await log(api)
        assert (await api.client.get(f"/v1/activities/{mine['id']}", headers=api.rep2)).status_code == 404
        assert (await api.client.get("/v1/activities", headers=api.rep2)).json()["items"] == []
        assert len((await api.client.get("/v1/activities?kind=task", headers=api.manager)).json()["items"]) == 1


class TestPatchActivity:
    async def test_complete_with_if_match(self, api: Api) -> None:
        activity = await log(api)
        url = f"/v1/activities/{activity['id']}"
        read = await api.client.get(url, headers=api.rep1)
        assert (read.status_code, read.json()["id"], read.json()["completed_at"]) == (200, activity["id"], None)
        r = await api.client.patch(
            url, json={"completed": True}, headers={**api.rep1, "If-Match": f'"{activity["id"]}.1"'}
        )
        assert r.status_code == 200 and r.json()["completed_at"] is not None
        r = await api.client.patch(
            url, json={"subject": "x"}, headers={**api.rep1, "If-Match": f'"{activity["id"]}.1"'}
        )
        assert r.status_code == 412
        r = await api.client.get("/v1/activities?open=true", headers=api.rep1)
        assert r.json()["items"] == []


class TestRemindersAndOverdue:
    async def test_reminder_fires_once_and_skips_completed(self, api: Api) -> None:
        first = await log(api)
        done = await log(api, subject="Already done")
        await api.client.patch(f"/v1/activities/{done['id']}", json={"completed": True}, headers=api.rep1)
        later = await log(api, remind_at=(T0 + timedelta(hours=5)).isoformat())
        run = "/v1/activities/reminders/run?as_of="
        assert (await api.client.post(run + "2026-05-01T10:00:00Z", headers=api.rep1)).status_code == 403
        r = await api.client.post(run + "2026-05-01T10:00:00Z", headers=api.manager)
        assert r.json()["fired"] == 1
        assert (await api.client.post(run + "2026-05-01T10:00:00Z", headers=api.manager)).json()["fired"] == 0
        assert (await api.client.post(run + "2026-05-01T15:00:00Z", headers=api.manager)).json()["fired"] == 1
        due = await api.events("activity.due")
        assert [e["data"]["activity_id"] for e in due] == [first["id"], later["id"]]
        r = await api.client.post(run + "not-a-time", headers=api.manager)
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "as_of"

    async def test_overdue_tasks_per_owner(self, api: Api) -> None:
        await log(api)
        await log(api, due_at=(T0 + timedelta(days=5)).isoformat())
        await log(api, api.rep2)
        await log(api, kind="meeting")  # meetings are not tasks
        r = await api.client.get("/v1/activities/overdue?as_of=2026-05-03T00:00:00Z", headers=api.manager)
        assert [(o["owner_id"], o["overdue_tasks"]) for o in r.json()["owners"]] == [("rep1", 1), ("rep2", 1)]
        r = await api.client.get("/v1/activities/overdue?as_of=2026-05-10T00:00:00Z", headers=api.rep1)
        assert [(o["owner_id"], o["overdue_tasks"]) for o in r.json()["owners"]] == [("rep1", 2)]


class TestCollectionTasks:
    async def test_one_task_per_invoice_and_step_for_the_deal_owner(self, api: Api) -> None:
        deal = await api.deal(api.manager, owner_id="rep2")
        customer = uuid.UUID(deal["customer_id"])
        overdue = overdue_event(customer, deal_id=uuid.UUID(deal["id"]))
        await api.consume(overdue)
        await api.consume(overdue)  # announced twice
        step = DunningStep(
            invoice_id=overdue.invoice_id,
            number="INV-1",
            customer_id=customer,
            step=2,
            days_overdue=7,
            action="reminder",
            amount_due=Decimal("500.00"),
            currency="EUR",
            occurred_at=T0,
        )
        await api.consume(step)
        await api.consume(step)
        tasks = (await api.client.get("/v1/activities?kind=task", headers=api.rep2)).json()["items"]
        assert sorted(t["origin_key"] for t in tasks) == sorted(
            [f"collection:{overdue.invoice_id}:overdue", f"collection:{overdue.invoice_id}:step:2"]
        )
        assert all(t["deal_id"] == deal["id"] and t["owner_id"] == "rep2" for t in tasks)

    async def test_customer_owner_when_no_deal(self, api: Api) -> None:
        customer = uuid.uuid4()
        await api.consume(
            CustomerCreated(
                customer_id=customer, kind="person", name="C", owner_id="rep1", status="prospect", created_at=T0
            )
        )
        await api.consume(overdue_event(customer))
        [t] = (await api.client.get("/v1/activities", headers=api.rep1)).json()["items"]
        assert t["customer_id"] == str(customer) and t["created_by"] == "system:collections"
