"""Campaign members need marketing consent (docs/domain.md §10.4): one customer alone without it is
refused, several are skipped and reported; a withdrawal suspends the membership, a consent given again
makes it active, an erasure suspends it for good; each move is announced."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

import tessera_sales.main as sales_main
from tessera_sales.testing import Api
from tessera_shared.db import unit_of_work
from tessera_shared.events import build_event
from tessera_shared.events.contracts import CustomerConsentChanged, CustomerErased, CustomerMerged

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def consent(customer_id: uuid.UUID, purpose: str, granted: bool, at: datetime = T0) -> CustomerConsentChanged:
    return CustomerConsentChanged(
        customer_id=customer_id,
        purpose=purpose,  # type: ignore[arg-type]  # the tests name valid purposes
        granted=granted,
        source="web_form",
        actor="mgr",
        changed_at=at,
    )


async def campaign(api: Api, channel: str = "email") -> str:
    r = await api.client.post(
        "/v1/campaigns",
        json={"name": "Spring", "channel": channel, "currency": "EUR", "budget": "100.00", "starts_on": "2026-03-01"},
        headers=api.manager,
    )
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


async def add(api: Api, campaign_id: str, *members: tuple[str, uuid.UUID]) -> Any:
    return await api.client.post(
        f"/v1/campaigns/{campaign_id}/members",
        json={"members": [{"type": t, "id": str(i)} for t, i in members]},
        headers=api.manager,
    )


async def members(api: Api, campaign_id: str) -> dict[str, dict[str, Any]]:
    r = await api.client.get(f"/v1/campaigns/{campaign_id}/members", headers=api.rep1)
    assert r.status_code == 200, r.text
    return {m["id"]: m for m in r.json()["items"]}


class TestAddingMembers:
    @pytest.mark.sqlite
    async def test_one_customer_without_consent_is_refused(self, api: Api) -> None:
        c = await campaign(api, "email")
        cid = uuid.uuid4()
        r = await add(api, c, ("customer", cid))
        assert r.status_code == 422
        error = r.json()["errors"][0]
        assert (error["field"], error["type"]) == ("members.0.id", "no_consent")
        assert str(cid) in error["message"] and "marketing_email" in error["message"]
        await api.consume(consent(cid, "sms", True))  # another channel's consent does not do
        assert (await add(api, c, ("customer", cid))).status_code == 422
        await api.consume(consent(cid, "marketing_email", False, T0 + timedelta(minutes=1)))
        r = await add(api, c, ("customer", cid))
        assert r.status_code == 422 and r.json()["errors"][0]["type"] == "consent_withdrawn"
        await api.consume(consent(cid, "marketing_email", True, T0 + timedelta(minutes=2)))
        r = await add(api, c, ("customer", cid))
        assert r.status_code == 200 and r.json() == {"added": 1, "already_members": 0, "skipped": []}
        assert (await members(api, c))[str(cid)]["status"] == "active"

    @pytest.mark.sqlite
    async def test_several_are_added_or_skipped_with_reasons(self, api: Api) -> None:
        c = await campaign(api, "event")  # no direct channel: any contact consent does
        ok, withdrawn, unknown, erased, segment = (uuid.uuid4() for _ in range(5))
        await api.consume(consent(ok, "phone", True))
        await api.consume(consent(withdrawn, "sms", False))
        await api.consume(consent(erased, "sms", True))
        await api.consume(CustomerErased(customer_id=erased, requested_by="admin", erased_at=T0))
        r = await add(api, c, ("customer", ok), ("customer", withdrawn), ("customer", unknown), ("customer", erased))
        assert r.status_code == 200, r.text
        body = r.json()
        assert (body["added"], body["already_members"]) == (1, 0)
        assert {(s["id"], s["reason"]) for s in body["skipped"]} == {
            (str(withdrawn), "consent_withdrawn"),
            (str(unknown), "no_consent"),
            (str(erased), "customer_erased"),
        }
        assert all(s["type"] == "customer" and s["message"] for s in body["skipped"])
        r = await add(api, c, ("customer", ok), ("segment", segment))  # segments: consent at the export
        assert r.json() == {"added": 1, "already_members": 1, "skipped": []}
        assert set(await members(api, c)) == {str(ok), str(segment)}


class TestConsentChanges:
    async def test_withdrawal_suspends_and_consent_given_again_reactivates(self, api: Api) -> None:
        email, fair = await campaign(api, "email"), await campaign(api, "event")
        cid = uuid.uuid4()
        await api.consume(consent(cid, "marketing_email", True))
        await api.consume(consent(cid, "sms", True))
        for c in (email, fair):
            assert (await add(api, c, ("customer", cid))).status_code == 200
        await api.consume(consent(cid, "marketing_email", False, T0 + timedelta(hours=1)))
        member = (await members(api, email))[str(cid)]
        assert (member["status"], member["status_reason"]) == ("suspended", "consent_withdrawn")
        assert member["status_changed_at"] is not None
        assert (await members(api, fair))[str(cid)]["status"] == "active"  # sms consent still there
        moved = await api.events("campaign.member_status_changed")
        assert [(e["key"], e["data"]["campaign_id"], e["data"]["to_status"], e["data"]["reason"]) for e in moved] == [
            (str(cid), email, "suspended", "consent_withdrawn")
        ]
        # An older answer arriving late changes nothing.
        await api.consume(consent(cid, "marketing_email", True, T0 + timedelta(minutes=30)))
        assert (await members(api, email))[str(cid)]["status"] == "suspended"
        await api.consume(consent(cid, "marketing_email", True, T0 + timedelta(hours=2)))
        member = (await members(api, email))[str(cid)]
        assert (member["status"], member["status_reason"]) == ("active", "consent_given")
        moved = await api.events("campaign.member_status_changed")
        assert [(e["data"]["from_status"], e["data"]["to_status"]) for e in moved] == [
            ("active", "suspended"),
            ("suspended", "active"),
        ]
        await api.consume(consent(cid, "marketing_email", True, T0 + timedelta(hours=2)))  # again: no move
        assert len(await api.events("campaign.member_status_changed")) == 2

    async def test_erasure_suspends_for_good(self, api: Api) -> None:
        c = await campaign(api, "sms")
        cid = uuid.uuid4()
        await api.consume(consent(cid, "sms", True))
        assert (await add(api, c, ("customer", cid))).status_code == 200
        await api.consume(CustomerErased(customer_id=cid, requested_by="admin", erased_at=T0 + timedelta(days=1)))
        member = (await members(api, c))[str(cid)]
        assert (member["status"], member["status_reason"]) == ("suspended", "customer_erased")
        await api.consume(consent(cid, "sms", True, T0 + timedelta(days=2)))
        assert (await members(api, c))[str(cid)]["status"] == "suspended"
        assert [e["data"]["reason"] for e in await api.events("campaign.member_status_changed")] == ["customer_erased"]

    async def test_a_new_channel_checks_the_members_again(self, api: Api) -> None:
        c = await campaign(api, "event")
        cid = uuid.uuid4()
        await api.consume(consent(cid, "sms", True))
        assert (await add(api, c, ("customer", cid))).status_code == 200
        got = await api.client.get(f"/v1/campaigns/{c}", headers=api.manager)
        r = await api.client.patch(
            f"/v1/campaigns/{c}", json={"channel": "email"}, headers={**api.manager, "If-Match": got.headers["etag"]}
        )
        assert r.status_code == 200, r.text
        member = (await members(api, c))[str(cid)]
        assert (member["status"], member["status_reason"]) == ("suspended", "no_consent")
        await api.consume(consent(cid, "marketing_email", True))  # e.g. announced by a backfill
        member = (await members(api, c))[str(cid)]
        assert (member["status"], member["status_reason"]) == ("active", "consent_given")

    async def test_a_merge_moves_memberships_to_the_survivor_and_checks_its_consent(self, api: Api) -> None:
        email, fair = await campaign(api, "email"), await campaign(api, "event")
        survivor, merged = uuid.uuid4(), uuid.uuid4()
        await api.consume(consent(merged, "marketing_email", True))
        await api.consume(consent(survivor, "marketing_email", True))
        await api.consume(consent(survivor, "sms", True))
        assert (await add(api, email, ("customer", merged))).status_code == 200
        assert (await add(api, email, ("customer", survivor))).status_code == 200
        assert (await add(api, fair, ("customer", merged))).status_code == 200
        # The customer service announces the answer the survivor takes over, then the merge.
        await api.consume(consent(survivor, "marketing_email", False, T0 + timedelta(hours=1)))
        event = CustomerMerged(survivor_id=survivor, merged_id=merged, actor="admin", merged_at=T0)
        await api.consume(event)
        await api.consume(event)
        assert set(await members(api, email)) == {str(survivor)}
        assert (await members(api, email))[str(survivor)]["status_reason"] == "consent_withdrawn"
        member = (await members(api, fair))[str(survivor)]  # sms consent: still active
        assert (member["status"], set(await members(api, fair))) == ("active", {str(survivor)})


class TestRaces:
    async def test_an_add_waits_for_a_withdrawal_being_applied(self, api: Api) -> None:
        """Without the lock the request read the answer committed before and added an active member
        that the withdrawal's check, run before the add committed, never saw."""
        c = await campaign(api, "email")
        cid = uuid.uuid4()
        await api.consume(consent(cid, "marketing_email", True))
        withdrawal = consent(cid, "marketing_email", False, T0 + timedelta(hours=1))
        handler = sales_main.spec().handlers[withdrawal.event_type]
        async with unit_of_work(api.app.state.runtime.sessions) as s:
            await handler(s, build_event(withdrawal, subject=cid), withdrawal)
            adding = asyncio.create_task(add(api, c, ("customer", cid)))
            await asyncio.sleep(0.3)
            assert not adding.done()  # waits for the consumer's transaction
        r = await adding
        assert r.status_code == 422 and r.json()["errors"][0]["type"] == "consent_withdrawn"
