"""/v1/campaigns: members, expense entries, attribution and ROI from collected cash."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from tessera_sales.testing import Api
from tessera_shared.events.contracts import Allocation, CustomerConsentChanged, PaymentReceived


def campaign_payload(**overrides: Any) -> dict[str, Any]:
    return {
        "name": "Spring fair",
        "channel": "event",
        "currency": "EUR",
        "budget": "5000.00",
        "starts_on": "2026-03-01",
        "ends_on": "2026-03-31",
        **overrides,
    }


async def campaign(api: Api, **overrides: Any) -> dict[str, Any]:
    r = await api.client.post("/v1/campaigns", json=campaign_payload(**overrides), headers=api.manager)
    assert r.status_code == 201, r.text
    return r.json()


def payment(customer_id: str, *allocations: tuple[str | None, str], currency: str = "EUR") -> PaymentReceived:
    total = sum(Decimal(a) for _, a in allocations)
    return PaymentReceived(
        payment_id=uuid.uuid4(),
        customer_id=uuid.UUID(customer_id),
        amount=total,
        currency=currency,
        method="transfer",
        received_on=date(2026, 4, 1),
        unallocated=Decimal(0),
        received_at=datetime.now(UTC),
        allocations=[
            Allocation(invoice_id=uuid.uuid4(), deal_id=uuid.UUID(d) if d else None, amount=Decimal(a))
            for d, a in allocations
        ],
    )


class TestCampaigns:
    @pytest.mark.sqlite
    async def test_create_get_patch_list(self, api: Api) -> None:
        c = await campaign(api)
        got = await api.client.get(f"/v1/campaigns/{c['id']}", headers=api.rep1)
        assert got.status_code == 200 and got.json()["budget"] == "5000.00"
        r = await api.client.patch(
            f"/v1/campaigns/{c['id']}",
            json={"budget": "6000"},
            headers={**api.manager, "If-Match": got.headers["etag"]},
        )
        assert r.status_code == 200 and r.json()["budget"] == "6000" and r.json()["version"] == 2
        r = await api.client.patch(
            f"/v1/campaigns/{c['id']}", json={"name": "x"}, headers={**api.manager, "If-Match": got.headers["etag"]}
        )
        assert r.status_code == 412
        assert len((await api.client.get("/v1/campaigns", headers=api.rep1)).json()["items"]) == 1

    async def test_errors(self, api: Api) -> None:
        assert (await api.client.post("/v1/campaigns", json=campaign_payload())).status_code == 401
        r = await api.client.post("/v1/campaigns", json=campaign_payload(), headers=api.rep1)
        assert r.status_code == 403
        r = await api.client.post(
            "/v1/campaigns",
            json=campaign_payload(ends_on="2026-01-01", channel="tv", budget="1.001"),
            headers=api.manager,
        )
        assert {e["field"] for e in r.json()["errors"]} == {"ends_on", "channel", "budget"}
        assert (await api.client.get(f"/v1/campaigns/{uuid.uuid4()}", headers=api.rep1)).status_code == 404
        r = await api.client.post(
            "/v1/deals",
            json={
                "customer_id": str(uuid.uuid4()),
                "title": "t",
                "amount": "1",
                "currency": "EUR",
                "campaign_id": str(uuid.uuid4()),
            },
            headers=api.rep1,
        )
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "campaign_id"

    @pytest.mark.sqlite
    async def test_members_are_added_once(self, api: Api) -> None:
        c = await campaign(api)
        members = [{"type": "customer", "id": str(uuid.uuid4())}, {"type": "segment", "id": str(uuid.uuid4())}]
        # A customer member needs marketing consent (test_campaign_consent.py).
        await api.consume(
            CustomerConsentChanged(
                customer_id=uuid.UUID(members[0]["id"]),
                purpose="marketing_email",
                granted=True,
                source="web_form",
                changed_at=datetime.now(UTC),
            )
        )
        url = f"/v1/campaigns/{c['id']}/members"
        r = await api.client.post(url, json={"members": members}, headers=api.manager)
        assert r.json() == {"added": 2, "already_members": 0, "skipped": []}
        r = await api.client.post(url, json={"members": members[:1]}, headers=api.manager)
        assert r.json() == {"added": 0, "already_members": 1, "skipped": []}
        listed = (await api.client.get(url, headers=api.rep1)).json()["items"]
        assert sorted(m["type"] for m in listed) == ["customer", "segment"]
        r = await api.client.post(
            url, json={"members": [{"type": "lead", "id": str(uuid.uuid4())}]}, headers=api.manager
        )
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "members.0.id"
        assert (await api.client.post(url, json={"members": members}, headers=api.rep1)).status_code == 403
        r = await api.client.post(url, json={"members": [{"type": "robot", "id": "x"}]}, headers=api.manager)
        assert {e["field"] for e in r.json()["errors"]} == {"members.0.type", "members.0.id"}


class TestRoi:
    @pytest.mark.sqlite
    async def test_roi_counts_collected_cash_not_deal_amounts(self, api: Api) -> None:
        c = await campaign(api)
        other = await campaign(api, name="Other")
        for amount in ("600.00", "400.00"):
            r = await api.client.post(
                f"/v1/campaigns/{c['id']}/costs",
                json={"description": "Booth", "currency": "EUR", "amount": amount, "incurred_on": "2026-03-02"},
                headers=api.as_("fin", "finance_manager"),
            )
            assert r.status_code == 201, r.text
        attributed = await api.deal(amount="10000.00", campaign_id=c["id"])
        unrelated = await api.deal(amount="10000.00", campaign_id=other["id"])
        r = await api.client.post(
            "/v1/leads", json={"name": "L", "source": "campaign", "campaign_id": c["id"]}, headers=api.rep1
        )
        assert r.status_code == 201
        paid = payment(attributed["customer_id"], (attributed["id"], "1500.00"), (None, "99.00"))
        await api.consume(paid)
        await api.consume(paid)  # re-announced: counted once
        await api.consume(payment(unrelated["customer_id"], (unrelated["id"], "7000.00")))
        r = await api.client.get(f"/v1/campaigns/{c['id']}/roi", headers=api.rep1)
        assert r.status_code == 200, r.text
        body = r.json()
        assert (body["attributed_leads"], body["attributed_deals"], body["won_deals"]) == (1, 1, 0)
        assert body["by_currency"] == [{"currency": "EUR", "cost": "1000.00", "collected": "1500.00", "roi": "0.5000"}]

    @pytest.mark.sqlite
    async def test_cost_errors(self, api: Api) -> None:
        c = await campaign(api)
        url = f"/v1/campaigns/{c['id']}/costs"
        body = {"description": "Ads", "currency": "EUR", "amount": "10.00", "incurred_on": "2026-03-02"}
        assert (await api.client.post(url, json=body, headers=api.rep1)).status_code == 403
        r = await api.client.post(url, json={**body, "amount": "0"}, headers=api.manager)
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "amount"
        r = await api.client.post(f"/v1/campaigns/{uuid.uuid4()}/costs", json=body, headers=api.manager)
        assert r.status_code == 404
        assert (await api.client.post(url, json=body, headers=api.manager)).status_code == 201
        costs = await api.client.get(url, headers=api.rep1)
        assert costs.status_code == 200, costs.text
        assert [(c["description"], c["amount"]) for c in costs.json()["items"]] == [("Ads", "10.00")]
        assert (await api.client.get(f"/v1/campaigns/{uuid.uuid4()}/roi", headers=api.manager)).status_code == 404
