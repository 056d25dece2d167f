"""Known customers only (docs/domain.md §10.2) in sales: deals, activities and conversions name a
customer sales knows, or one the customer service confirms (read through, then kept)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from tessera_sales.activities.models import Activity
from tessera_sales.deals.models import Deal
from tessera_sales.known_customers.models import KnownCustomer
from tessera_sales.testing import PROBLEM, Api, sales_settings
from tessera_shared.customer_directory import HttpCustomerDirectory
from tessera_shared.events.contracts import CustomerCreated, CustomerErased, CustomerMerged
from tessera_shared.testing.customers import open_transactions


async def row(api: Api, customer_id: uuid.UUID) -> KnownCustomer | None:
    async with api.app.state.runtime.sessions() as s:
        return await s.get(KnownCustomer, customer_id)


class TestDeals:
    @pytest.mark.sqlite
    async def test_an_unseen_customer_is_read_through_kept_and_later_merged_with_its_event(self, api: Api) -> None:
        stub = api.app.state.customer_directory
        customer_id = uuid.uuid4()
        stub.add(customer_id, "Ada Ltd", owner_id="rep1")
        deal = await api.deal(customer_id=str(customer_id))
        assert deal["customer_id"] == str(customer_id) and stub.reads == [customer_id]
        kept = await row(api, customer_id)
        assert kept is not None and (kept.name, kept.owner_id, kept.status) == ("Ada Ltd", "rep1", "prospect")
        # Known now: the next write asks nobody.
        await api.deal(customer_id=str(customer_id))
        assert stub.reads == [customer_id]
        # customer.created arrives later and merges with the row instead of racing it.
        await api.consume(
            CustomerCreated(
                customer_id=customer_id,
                kind="organization",
                name="Ada Ltd",
                owner_id="rep1",
                status="prospect",
                created_at=datetime.now(UTC),
            )
        )
        kept = await row(api, customer_id)
        assert kept is not None and (kept.name, kept.owner_id) == ("Ada Ltd", "rep1")

    async def test_no_such_customer_is_422_and_nothing_is_stored(self, api: Api) -> None:
        stub = api.app.state.customer_directory
        missing = uuid.uuid4()
        stub.missing.add(missing)
        r = await api.client.post(
            "/v1/deals",
            json={"customer_id": str(missing), "title": "x", "amount": "1.00", "currency": "EUR"},
            headers=api.rep1,
        )
        assert (r.status_code, r.headers["content-type"]) == (422, PROBLEM)
        assert r.json()["type"] == "urn:tessera:problem:validation-error"
        assert r.json()["errors"][0] == {**r.json()["errors"][0], "field": "customer_id", "message": "no such customer"}
        assert await api.count(Deal) == 0 and await row(api, missing) is None
        assert await api.events("deal.created") == []

    async def test_merged_names_the_survivor_and_erased_is_refused(self, api: Api) -> None:
        stub = api.app.state.customer_directory
        merged, survivor = uuid.uuid4(), uuid.uuid4()
        stub.merged[merged] = survivor  # merged in the customer service, not announced here yet
        payload = {"title": "x", "amount": "1.00", "currency": "EUR"}
        r = await api.client.post("/v1/deals", json={**payload, "customer_id": str(merged)}, headers=api.rep1)
        assert r.status_code == 422 and str(survivor) in r.json()["errors"][0]["message"]
        # Announced merges and erasures answer from the local copy.
        old = uuid.uuid4()
        await api.consume(
            CustomerMerged(merged_id=old, survivor_id=survivor, actor="admin", merged_at=datetime.now(UTC))
        )
        r = await api.client.post("/v1/deals", json={**payload, "customer_id": str(old)}, headers=api.rep1)
        assert r.status_code == 422 and str(survivor) in r.json()["errors"][0]["message"]
        gone = uuid.uuid4()
        await api.consume(CustomerErased(customer_id=gone, requested_by="admin", erased_at=datetime.now(UTC)))
        r = await api.client.post("/v1/deals", json={**payload, "customer_id": str(gone)}, headers=api.rep1)
        assert r.status_code == 422 and r.json()["errors"][0]["message"] == "the customer was erased"
        assert await api.count(Deal) == 0

    async def test_customer_service_unreachable_is_503_with_retry_after(self, api: Api) -> None:
        api.app.state.customer_directory = HttpCustomerDirectory(
            sales_settings("sqlite://", customer_url="http://127.0.0.1:1", gateway_url="http://127.0.0.1:1")
        )
        customer_id = uuid.uuid4()
        r = await api.client.post(
            "/v1/deals",
            json={"customer_id": str(customer_id), "title": "x", "amount": "1.00", "currency": "EUR"},
            headers=api.rep1,
        )
        assert (r.status_code, r.headers["retry-after"]) == (503, "5")
        assert r.json()["type"] == "urn:tessera:problem:upstream-unavailable"
        assert await api.count(Deal) == 0 and await row(api, customer_id) is None
        # A customer sales knows needs no call: the write goes on while the customer service is down.
        await api.consume(
            CustomerCreated(
                customer_id=customer_id, kind="person", name="K", status="prospect", created_at=datetime.now(UTC)
            )
        )
        await api.deal(customer_id=str(customer_id))


class TestActivities:
    async def test_an_activity_names_a_known_customer(self, api: Api) -> None:
        stub = api.app.state.customer_directory
        missing = uuid.uuid4()
        stub.missing.add(missing)
        body = {"kind": "call", "subject": "Intro call"}
        r = await api.client.post("/v1/activities", json={**body, "customer_id": str(missing)}, headers=api.rep1)
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "customer_id"
        assert await api.count(Activity) == 0
        stub.down = True
        r = await api.client.post("/v1/activities", json={**body, "customer_id": str(uuid.uuid4())}, headers=api.rep1)
        assert r.status_code == 503 and "retry-after" in r.headers
        stub.down = False
        fine = uuid.uuid4()
        r = await api.client.post("/v1/activities", json={**body, "customer_id": str(fine)}, headers=api.rep1)
        assert r.status_code == 201, r.text
        assert await row(api, fine) is not None


class TestNoTransactionDuringTheReadThrough:
    """The read-through runs before the write's transaction opens: while the customer service is
    asked, no session of sales' database sits in a transaction (the idempotency claim, a locked
    lead), so a slow customer service holds no locks (docs/domain.md §10.2)."""

    @pytest.mark.parametrize("write", ["deal", "activity", "conversion", "conversion-creating"])
    async def test_no_session_is_idle_in_transaction_while_the_customer_service_answers(
        self, api: Api, write: str
    ) -> None:
        stub = api.app.state.customer_directory
        seen: list[list[str]] = []

        async def probe(_: uuid.UUID) -> None:
            seen.append(await open_transactions(api.app.state.runtime.sessions))

        stub.while_answering = probe
        customer_id = str(uuid.uuid4())
        headers = {**api.rep1, "Idempotency-Key": str(uuid.uuid4())}
        if write == "deal":
            body = {"customer_id": customer_id, "title": "x", "amount": "1.00", "currency": "EUR"}
            r = await api.client.post("/v1/deals", json=body, headers=headers)
        elif write == "activity":
            body = {"kind": "call", "subject": "Intro", "customer_id": customer_id}
            r = await api.client.post("/v1/activities", json=body, headers=headers)
        else:
            lead = await api.client.post("/v1/leads", json={"name": "Lea", "source": "referral"}, headers=api.rep1)
            assert lead.status_code == 201, lead.text
            url = f"/v1/leads/{lead.json()['id']}/convert"
            named = {"customer_id": customer_id} if write == "conversion" else {}
            r = await api.client.post(url, json=named, headers=headers)
        assert r.status_code in (200, 201), r.text
        if write == "conversion-creating":  # the customer service creates the customer: one call, no read
            assert stub.reads == [] and seen == [[]] and r.json()["customer_created"] is True
        else:
            assert stub.reads == [uuid.UUID(customer_id)] and seen == [[]]
