"""/v1/leads: scoring, the status machine, and conversion through the real customer service."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

import tessera_customer.main as customer_main
import tessera_gateway.main as gateway_main
import tessera_sales.main as sales_main
from tessera_customer.settings import CustomerSettings
from tessera_gateway.main import create_app as gateway_app
from tessera_gateway.settings import GatewaySettings
from tessera_sales.deals.models import Deal
from tessera_sales.known_customers.models import KnownCustomer
from tessera_sales.leads.models import Lead
from tessera_sales.leads.service import customer_payload_for
from tessera_sales.testing import PROBLEM, Api, sales_settings
from tessera_shared.customer_directory import CustomerServiceUnavailable, HttpCustomerDirectory
from tessera_shared.events.contracts import CustomerCreated
from tessera_shared.testing.plugin import migrations_of, running


def lead_payload(**overrides: Any) -> dict[str, Any]:
    return {
        "name": "Grace Hopper",
        "company": "Navy Labs",
        "title": "Director of Research",
        "email": "grace@example.com",
        "source": "referral",
        **overrides,
    }


@pytest.fixture
async def stack(databases, backend) -> AsyncIterator[tuple[Api, httpx.AsyncClient]]:
    """Sales converting through the real gateway (token) and customer service, in process."""
    customer_url = await databases.new("customer", backend, migrations_of(customer_main.__file__))
    customer = customer_main.create_app(
        CustomerSettings(database_url=customer_url, kafka_enabled=False, log_json=False)
    )
    gateway_db = await databases.new("gateway", backend, migrations_of(gateway_main.__file__))
    gateway = gateway_app(GatewaySettings(database_url=gateway_db, log_json=False))
    sales_url = await databases.new("sales", backend, migrations_of(sales_main.__file__))
    sales = sales_main.create_app(
        sales_settings(sales_url, customer_url="http://customer.test", gateway_url="http://gateway.test"),
        mounts={
            "http://customer.test/": httpx.ASGITransport(app=customer),
            "http://gateway.test/": httpx.ASGITransport(app=gateway),
        },
    )
    async with (
        customer.router.lifespan_context(customer),
        gateway.router.lifespan_context(gateway),
        running(sales) as client,
    ):
        yield (
            Api(sales, client),
            httpx.AsyncClient(transport=httpx.ASGITransport(app=customer), base_url="http://customer.test"),
        )


async def create_lead(api: Api, headers: dict[str, str] | None = None, **overrides: Any) -> dict[str, Any]:
    r = await api.client.post("/v1/leads", json=lead_payload(**overrides), headers=headers or api.rep1)
    assert r.status_code == 201, r.text
    return r.json()


class TestCreateLead:
    async def test_scores_with_reasons_and_publishes(self, api: Api) -> None:
        lead = await create_lead(api, estimated_value="20000", currency="EUR")
        rules = {r["rule"]: r["points"] for r in lead["score_reasons"]}
        assert rules == {"source": 30, "fit.company": 10, "fit.decision_maker": 15, "fit.reachable": 5, "fit.value": 10}
        assert lead["score"] == 70 and lead["owner_id"] == "rep1" and lead["status"] == "new"
        [event] = await api.events("lead.created")
        assert event["subject"] == lead["id"] and event["data"]["score"] == 70

    async def test_errors(self, api: Api) -> None:
        assert (await api.client.post("/v1/leads", json=lead_payload())).status_code == 401
        r = await api.client.post("/v1/leads", json=lead_payload(), headers=api.as_("a", "support_agent"))
        assert r.status_code == 403
        r = await api.client.post(
            "/v1/leads", json=lead_payload(source="tv", email="x", estimated_value="5"), headers=api.rep1
        )
        assert r.status_code == 422 and r.headers["content-type"] == PROBLEM
        assert {"source", "email"} <= {e["field"] for e in r.json()["errors"]}
        assert await api.count(Lead) == 0


class TestLeadStatus:
    @pytest.mark.sqlite
    async def test_status_machine_and_row_rules(self, api: Api) -> None:
        lead = await create_lead(api)
        url = f"/v1/leads/{lead['id']}"
        r = await api.client.patch(
            url, json={"status": "contacted"}, headers={**api.rep1, "If-Match": f'"{lead["id"]}.1"'}
        )
        assert r.status_code == 200 and r.json()["status"] == "contacted" and r.json()["version"] == 2
        r = await api.client.patch(url, json={"status": "new"}, headers=api.rep1)
        assert r.status_code == 409 and r.json()["allowed"] == ["qualified", "disqualified"]
        assert r.json()["type"] == "urn:tessera:problem:invalid-transition"
        assert (r.json()["current"], r.json()["requested"]) == ("contacted", "new")
        r = await api.client.patch(url, json={"status": "disqualified"}, headers=api.rep1)
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "disqualified_reason"
        r = await api.client.patch(url, json={"title": "x"}, headers={**api.rep1, "If-Match": f'"{lead["id"]}.1"'})
        assert r.status_code == 412
        assert (await api.client.get(url, headers=api.rep2)).status_code == 404
        assert (await api.client.get("/v1/leads", headers=api.rep2)).json()["items"] == []
        assert len((await api.client.get("/v1/leads?status=contacted", headers=api.manager)).json()["items"]) == 1
        r = await api.client.patch(url, json={"title": "Intern"}, headers=api.rep1)
        assert "fit.decision_maker" not in {x["rule"] for x in r.json()["score_reasons"]}


class TestConvertLead:
    async def test_creates_one_customer_and_a_deal_even_when_retried(self, stack) -> None:
        api, customers = stack
        lead = await create_lead(api)
        body = {"deal": {"title": "First order", "currency": "EUR", "amount": "2500.00"}}
        r = await api.client.post(f"/v1/leads/{lead['id']}/convert", json=body, headers=api.rep1)
        assert r.status_code == 200, r.text
        result = r.json()
        assert result["customer_created"] is True and result["lead"]["status"] == "converted"
        got = await customers.get(f"/v1/customers/{result['customer_id']}", headers=api.manager)
        assert got.status_code == 200 and got.json()["name"] == "Navy Labs" and got.json()["owner_id"] == "rep1"
        deal = (await api.client.get(f"/v1/deals/{result['deal_id']}", headers=api.rep1)).json()
        assert (deal["customer_id"], deal["stage"], deal["lead_id"]) == (
            result["customer_id"],
            "qualification",
            lead["id"],
        )
        [event] = await api.events("lead.converted")
        assert event["data"]["deal_id"] == result["deal_id"] and event["subject"] == result["customer_id"]
        # The customer service answers a retried create (same Idempotency-Key) with the first customer.
        directory = api.app.state.customer_directory
        async with api.app.state.runtime.sessions() as s:
            payload = customer_payload_for(await s.get(Lead, uuid.UUID(lead["id"])))
        again = await directory.create_customer(payload, idempotency_key=lead["id"])
        assert str(again.id) == result["customer_id"]
        assert directory._token is not None  # the service token is cached, not fetched per call
        r = await api.client.post(f"/v1/leads/{lead['id']}/convert", json=body, headers=api.rep1)
        assert r.status_code == 409  # converted once
        assert r.json()["type"] == "urn:tessera:problem:invalid-transition"
        assert {k: r.json()[k] for k in ("current", "requested", "allowed")} == {
            "current": "converted",
            "requested": "converted",
            "allowed": [],
        }
        r = await api.client.patch(f"/v1/leads/{lead['id']}", json={"title": "CEO"}, headers=api.rep1)
        assert (r.status_code, r.json()["current"], r.json()["allowed"]) == (409, "converted", [])
        async with api.app.state.runtime.sessions() as s:
            assert (await s.get(KnownCustomer, uuid.UUID(result["customer_id"]))) is not None

    async def test_to_a_customer_created_a_moment_ago_never_fails_on_the_copy_lag(self, stack) -> None:
        """The customer exists in the customer service; its customer.created has not reached sales
        (no broker here: it never does). Each conversion reads the customer through, every time."""
        api, customers = stack
        for n in range(20):
            r = await customers.post(
                "/v1/customers", json={"kind": "person", "name": f"Fresh {n}"}, headers=api.manager
            )
            assert r.status_code == 201, r.text
            customer_id = r.json()["id"]
            lead = await create_lead(api)
            r = await api.client.post(
                f"/v1/leads/{lead['id']}/convert",
                json={"customer_id": customer_id, "deal": {"title": "x", "currency": "EUR", "amount": "10"}},
                headers=api.rep1,
            )
            assert r.status_code == 200, (n, r.text)
            async with api.app.state.runtime.sessions() as s:
                kept = await s.get(KnownCustomer, uuid.UUID(customer_id))
            assert kept is not None and kept.name == f"Fresh {n}" and kept.status == "prospect"
        # An id the customer service does not have: 422, nothing converted.
        lead = await create_lead(api)
        r = await api.client.post(
            f"/v1/leads/{lead['id']}/convert", json={"customer_id": str(uuid.uuid4())}, headers=api.rep1
        )
        assert r.status_code == 422 and r.json()["errors"][0]["message"] == "no such customer"
        assert (await api.client.get(f"/v1/leads/{lead['id']}", headers=api.rep1)).json()["status"] == "new"

    async def test_the_created_customer_row_merges_with_its_later_event(self, stack) -> None:
        api, _ = stack
        lead = await create_lead(api)
        r = await api.client.post(f"/v1/leads/{lead['id']}/convert", headers=api.rep1)
        assert r.status_code == 200, r.text
        customer_id = uuid.UUID(r.json()["customer_id"])
        # customer.created arrives after the conversion wrote the copy (twice: a redelivery).
        for _ in range(2):
            await api.consume(
                CustomerCreated(
                    customer_id=customer_id,
                    kind="organization",
                    name="Navy Labs",
                    owner_id="rep1",
                    status="prospect",
                    created_at=datetime.now(UTC),
                )
            )
        async with api.app.state.runtime.sessions() as s:
            kept = await s.get(KnownCustomer, customer_id)
        assert kept is not None and (kept.name, kept.owner_id, kept.status) == ("Navy Labs", "rep1", "prospect")

    async def test_to_a_known_customer_without_calling_out(self, api: Api) -> None:
        customer_id = uuid.uuid4()
        await api.consume(
            CustomerCreated(
                customer_id=customer_id, kind="person", name="Known", status="prospect", created_at=datetime.now(UTC)
            )
        )
        lead = await create_lead(api)
        stub = api.app.state.customer_directory
        missing = uuid.uuid4()
        stub.missing.add(missing)
        r = await api.client.post(
            f"/v1/leads/{lead['id']}/convert", json={"customer_id": str(missing)}, headers=api.rep1
        )
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "customer_id"
        assert r.json()["errors"][0]["message"] == "no such customer"
        r = await api.client.post(
            f"/v1/leads/{lead['id']}/convert", json={"customer_id": str(customer_id)}, headers=api.rep1
        )
        assert r.status_code == 200 and r.json()["customer_created"] is False and r.json()["deal_id"] is None
        assert stub.reads == [missing]  # the known customer was not read through

    async def test_customer_service_down_is_503_and_stores_nothing(self, api: Api) -> None:
        # Upstream URLs at a 127.0.0.1 port nothing listens on.
        api.app.state.customer_directory = HttpCustomerDirectory(
            sales_settings("sqlite://", customer_url="http://127.0.0.1:1", gateway_url="http://127.0.0.1:1")
        )
        lead = await create_lead(api)
        r = await api.client.post(
            f"/v1/leads/{lead['id']}/convert",
            json={"deal": {"title": "x", "currency": "EUR", "amount": "1"}},
            headers=api.rep1,
        )
        assert r.status_code == 503 and r.headers["content-type"] == PROBLEM
        assert r.json()["type"] == "urn:tessera:problem:upstream-unavailable" and r.headers["retry-after"] == "5"
        got = (await api.client.get(f"/v1/leads/{lead['id']}", headers=api.rep1)).json()
        assert got["status"] == "new" and got["customer_id"] is None
        assert await api.count(Deal) == 0
        assert await api.events("lead.converted") == []

    async def test_customer_service_refusing_the_lead_is_409_and_stores_nothing(self, api: Api) -> None:
        def customer_service(request: httpx.Request) -> httpx.Response:
            if request.url.path == "/auth/token":
                return httpx.Response(200, json={"access_token": "t", "expires_in": 300})
            return httpx.Response(
                422, json={"detail": "invalid input: email"}, headers={"content-type": "application/problem+json"}
            )

        settings = sales_settings("sqlite://", customer_url="http://customer", gateway_url="http://gateway")
        api.app.state.customer_directory = HttpCustomerDirectory(
            settings, mounts={"all://": httpx.MockTransport(customer_service)}
        )
        lead = await create_lead(api)
        r = await api.client.post(f"/v1/leads/{lead['id']}/convert", headers=api.rep1)
        assert (r.status_code, r.headers["content-type"]) == (409, PROBLEM)
        assert r.json()["type"] == "urn:tessera:problem:customer-rejected" and r.json()["upstream_status"] == 422
        assert r.json()["detail"] == "the customer service refused the new customer: invalid input: email"
        got = (await api.client.get(f"/v1/leads/{lead['id']}", headers=api.rep1)).json()
        assert got["status"] == "new" and got["customer_id"] is None
        assert await api.events("lead.converted") == []

    @pytest.mark.parametrize("status", [401, 403, 500])
    async def test_a_refused_credential_or_a_failing_customer_service_is_unavailable(self, status: int) -> None:
        def customer_service(request: httpx.Request) -> httpx.Response:
            if request.url.path == "/auth/token":
                return httpx.Response(200, json={"access_token": "t", "expires_in": 300})
            return httpx.Response(status, json={"detail": "no"})

        settings = sales_settings("sqlite://", customer_url="http://customer", gateway_url="http://gateway")
        directory = HttpCustomerDirectory(settings, mounts={"all://": httpx.MockTransport(customer_service)})
        with pytest.raises(CustomerServiceUnavailable) as refused:
            await directory.create_customer({"kind": "person", "name": "x"}, idempotency_key="k")
        assert (refused.value.status, refused.value.problem_slug()) == (503, "upstream-unavailable")
        assert refused.value.headers == {"Retry-After": "5"}

    async def test_auth(self, api: Api) -> None:
        lead = await create_lead(api)
        url = f"/v1/leads/{lead['id']}/convert"
        assert (await api.client.post(url)).status_code == 401
        assert (await api.client.post(url, headers=api.as_("c", "billing_clerk"))).status_code == 403
        assert (await api.client.post(url, headers=api.rep2)).status_code == 404
        r = await api.client.post(url, json={"deal": {"title": "x"}}, headers=api.rep1)
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "deal.currency"
