"""The local customer copy: owner changes, merges re-point records, erasure anonymises."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from tessera_sales.known_customers.models import KnownCustomer
from tessera_sales.testing import Api
from tessera_shared.events.contracts import CustomerCreated, CustomerErased, CustomerMerged, CustomerUpdated

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def created(customer_id: uuid.UUID, owner: str = "rep1") -> CustomerCreated:
    return CustomerCreated(
        customer_id=customer_id, kind="organization", name="Acme", owner_id=owner, status="prospect", created_at=T0
    )


def updated(customer_id: uuid.UUID, owner: str, at: datetime, version: int) -> CustomerUpdated:
    return CustomerUpdated(
        customer_id=customer_id,
        changed_fields=["owner_id"],
        name="Acme AG",
        owner_id=owner,
        version=version,
        updated_at=at,
    )


async def known(api: Api, customer_id: uuid.UUID) -> KnownCustomer:
    async with api.app.state.runtime.sessions() as s:
        return await s.get(KnownCustomer, customer_id)


class TestCustomerCopy:
    async def test_update_changes_owner_and_older_updates_lose(self, api: Api) -> None:
        cid = uuid.uuid4()
        await api.consume(created(cid))
        await api.consume(updated(cid, "rep2", T0 + timedelta(days=2), 3))
        await api.consume(updated(cid, "rep1", T0 + timedelta(days=1), 2))  # arrives late
        row = await known(api, cid)
        assert (row.owner_id, row.name) == ("rep2", "Acme AG")

    async def test_merge_repoints_deals_leads_and_activities(self, api: Api) -> None:
        survivor, merged = uuid.uuid4(), uuid.uuid4()
        await api.consume(created(merged))
        deal = await api.deal(customer_id=str(merged))
        await api.client.post(
            "/v1/activities", json={"kind": "note", "subject": "n", "customer_id": str(merged)}, headers=api.rep1
        )
        lead = (await api.client.post("/v1/leads", json={"name": "L", "source": "other"}, headers=api.rep1)).json()
        r = await api.client.post(
            f"/v1/leads/{lead['id']}/convert", json={"customer_id": str(merged)}, headers=api.rep1
        )
        assert r.status_code == 200
        event = CustomerMerged(survivor_id=survivor, merged_id=merged, actor="admin", merged_at=T0)
        await api.consume(event)
        await api.consume(event)
        assert (await api.client.get(f"/v1/deals/{deal['id']}", headers=api.rep1)).json()["customer_id"] == str(
            survivor
        )
        assert (await api.client.get(f"/v1/leads/{lead['id']}", headers=api.rep1)).json()["customer_id"] == str(
            survivor
        )
        acts = (await api.client.get(f"/v1/activities?customer_id={survivor}", headers=api.rep1)).json()["items"]
        assert len(acts) == 1
        other = (await api.client.post("/v1/leads", json={"name": "M", "source": "other"}, headers=api.rep1)).json()
        r = await api.client.post(
            f"/v1/leads/{other['id']}/convert", json={"customer_id": str(merged)}, headers=api.rep1
        )
        assert r.status_code == 422 and str(survivor) in r.json()["errors"][0]["message"]
        r = await api.client.post(
            "/v1/deals",
            json={"customer_id": str(merged), "title": "t", "amount": "1", "currency": "EUR"},
            headers=api.rep1,
        )
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "customer_id"

    @pytest.mark.sqlite
    async def test_erasure_removes_personal_data_and_keeps_totals(self, api: Api) -> None:
        cid = uuid.uuid4()
        await api.consume(created(cid))
        lead = (
            await api.client.post(
                "/v1/leads",
                json={"name": "Ada", "email": "ada@example.com", "phone": "+1 555 0100", "source": "referral"},
                headers=api.rep1,
            )
        ).json()
        await api.client.post(f"/v1/leads/{lead['id']}/convert", json={"customer_id": str(cid)}, headers=api.rep1)
        deal = await api.deal(customer_id=str(cid), amount="700.00")
        await api.client.post(
            "/v1/activities",
            json={"kind": "call", "subject": "Called Ada", "notes": "private", "customer_id": str(cid)},
            headers=api.rep1,
        )
        await api.consume(CustomerErased(customer_id=cid, requested_by="dpo", erased_at=T0))
        got = (await api.client.get(f"/v1/leads/{lead['id']}", headers=api.rep1)).json()
        assert (got["name"], got["email"], got["phone"], got["score_reasons"]) == ("[erased]", None, None, [])
        [act] = (await api.client.get(f"/v1/activities?customer_id={cid}", headers=api.rep1)).json()["items"]
        assert (act["subject"], act["notes"]) == ("[erased]", None)
        assert (await api.client.get(f"/v1/deals/{deal['id']}", headers=api.rep1)).json()["amount"] == "700.00"
        assert (await known(api, cid)).name == "[erased]"


class TestCustomerCreatedAfterOtherFacts:
    async def test_a_late_creation_keeps_what_an_earlier_update_wrote(self, api: Api) -> None:
        cid = uuid.uuid4()
        await api.consume(updated(cid, "rep2", T0 + timedelta(days=1), 3))  # overtook the creation
        await api.consume(created(cid, owner="rep1"))
        row = await known(api, cid)
        assert (row.name, row.owner_id, row.version) == ("Acme AG", "rep2", 3)

    async def test_a_creation_makes_the_row_with_its_status(self, api: Api) -> None:
        cid = uuid.uuid4()
        await api.consume(created(cid))
        row = await known(api, cid)
        assert (row.name, row.owner_id, row.status, row.version) == ("Acme", "rep1", "prospect", 1)
        assert row.updated_at.tzinfo is not None
