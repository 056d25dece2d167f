"""GET /api/v1/customers/{id}/360: composed from the four services, resilient to outages."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import httpx
import httpx2
import pytest

import tessera_billing.main as billing_main
import tessera_customer.main as customer_main
import tessera_gateway.main as gateway_main
import tessera_notifications.main as notifications_main
import tessera_sales.main as sales_main
import tessera_service_desk.main as desk_main
from tessera_billing.settings import BillingSettings
from tessera_customer.settings import CustomerSettings
from tessera_gateway.main import create_app
from tessera_gateway.settings import GatewaySettings
from tessera_gateway.views.cache import CONSUMERS_OF, Views
from tessera_gateway.views.compose import Result
from tessera_gateway.views.customer360 import compose, fetches
from tessera_notifications.settings import NotificationsSettings
from tessera_sales.settings import SalesSettings
from tessera_service_desk.settings import ServiceDeskSettings
from tessera_shared.testing.builders import customer_payload
from tessera_shared.testing.customers import StubCustomers
from tessera_shared.testing.plugin import migrations_of, running

SERVICES = {
    "customer": (customer_main, CustomerSettings),
    "sales": (sales_main, SalesSettings),
    "service-desk": (desk_main, ServiceDeskSettings),
    "billing": (billing_main, BillingSettings),
    "notifications": (notifications_main, NotificationsSettings),
}


async def slow_app(scope, receive, send) -> None:
    """An upstream that answers far too late."""
    if scope["type"] == "http":
        await asyncio.sleep(10)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})


async def start_stack(databases, down: str | None = None, slow: str | None = None):
    apps, mounts = [], {}
    urls: dict[str, Any] = {}
    for name, (module, settings_cls) in SERVICES.items():
        url_key = name.replace("-", "_") + "_url"
        if name == down:
            urls[url_key] = "http://127.0.0.1:1"
            continue
        host = f"http://{name}.test"
        urls[url_key] = host
        if name == slow:
            mounts[host] = httpx2.ASGITransport(app=slow_app)
            continue
        db = await databases.new(name, "sqlite", migrations_of(module.__file__))
        app = module.create_app(settings_cls(database_url=db, kafka_enabled=False, jobs_enabled=False, log_json=False))
        # Customers are created in the customer app here; no event carries them to the others.
        app.state.customer_directory = StubCustomers()
        apps.append(app)
        mounts[host] = httpx2.ASGITransport(app=app)
    gw_db = await databases.new("gateway", "sqlite", migrations_of(gateway_main.__file__))
    # A deadline well under the slow upstream's 10 s only where a slow upstream is the point (3 s:
    # 0.8 s let the healthy profile time out under four workers); elsewhere 10 s, so a busy machine
    # does not turn a healthy section into a timeout.
    deadline = 3.0 if slow else 10.0
    gateway = create_app(
        GatewaySettings(
            database_url=gw_db, log_json=False, view_deadline_seconds=deadline, view_cache_enabled=False, **urls
        ),
        mounts=mounts,
    )
    return apps, gateway


# The gateway app behind each stack's client: running() may hand the client a wrapper of the app
# (the test plugin's recorder of what was called on SQLite), so the client's transport does not tell.
GATEWAYS: dict[httpx.AsyncClient, Any] = {}


@pytest.fixture
async def stack(databases, request):
    apps, gateway = await start_stack(databases, **getattr(request, "param", {}))
    contexts = [app.router.lifespan_context(app) for app in apps]
    for ctx in contexts:
        await ctx.__aenter__()
    try:
        async with running(gateway) as client:
            GATEWAYS[client] = gateway
            yield client
            del GATEWAYS[client]
    finally:
        for ctx in reversed(contexts):
            await ctx.__aexit__(None, None, None)


async def login(client: httpx.AsyncClient, user: str) -> dict[str, str]:
    r = await client.post("/auth/token", data={"grant_type": "password", "username": user, "password": "local"})
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


async def new_customer(client: httpx.AsyncClient, headers: dict[str, str]) -> str:
    r = await client.post("/api/v1/customers", json=customer_payload(), headers=headers)
    assert r.status_code == 201, r.text
    return r.json()["id"]


async def test_all_sections_ok(stack: httpx.AsyncClient) -> None:
    admin = await login(stack, "admin")
    cid = await new_customer(stack, admin)
    r = await stack.get(f"/api/v1/customers/{cid}/360", headers=admin)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["profile"]["id"] == cid
    assert set(body["sections"].values()) == {"ok"}, body["sections"]
    assert body["sales"]["pipeline_value"] == []
    assert body["billing"]["credit"]["known"] is False  # billing has not heard of the customer yet
    assert body["billing"]["balance"] == [] and body["billing"]["aging"] == []
    again = await stack.get(f"/api/v1/customers/{cid}/360", headers={**admin, "If-None-Match": r.headers["etag"]})
    assert again.status_code == 304


async def test_unknown_customer_is_404(stack: httpx.AsyncClient) -> None:
    r = await stack.get(f"/api/v1/customers/{uuid.uuid4()}/360", headers=await login(stack, "admin"))
    assert r.status_code == 404


async def test_partner_may_not_see_it(stack: httpx.AsyncClient) -> None:
    token = (
        await stack.post(
            "/auth/token", data={"grant_type": "client_credentials", "client_id": "partner", "client_secret": "local"}
        )
    ).json()["access_token"]
    r = await stack.get(f"/api/v1/customers/{uuid.uuid4()}/360", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 403


@pytest.mark.parametrize("stack", [{"down": "billing"}, {"down": "sales"}, {"down": "service-desk"}], indirect=True)
async def test_a_dead_service_costs_only_its_section(stack: httpx.AsyncClient) -> None:
    admin = await login(stack, "admin")
    cid = await new_customer(stack, admin)
    r = await stack.get(f"/api/v1/customers/{cid}/360", headers=admin)
    assert r.status_code == 200
    sections = r.json()["sections"]
    assert sorted(s for s, v in sections.items() if v != "ok") in (["billing"], ["sales"], ["service"])
    assert "unavailable" in sections.values()


@pytest.mark.parametrize("stack", [{"slow": "billing"}], indirect=True)
async def test_a_slow_service_times_out_within_the_deadline(stack: httpx.AsyncClient) -> None:
    admin = await login(stack, "admin")
    cid = await new_customer(stack, admin)
    started = time.monotonic()
    r = await stack.get(f"/api/v1/customers/{cid}/360", headers=admin)
    elapsed = time.monotonic() - started
    assert r.status_code == 200
    assert r.json()["sections"]["billing"] == "timeout"
    assert r.json()["profile"]["id"] == cid
    assert elapsed < 5.0  # the deadline is 3 s; billing would answer after 10 s


@pytest.mark.parametrize("stack", [{"down": "customer"}], indirect=True)
async def test_customer_service_down_still_answers(stack: httpx.AsyncClient) -> None:
    r = await stack.get(f"/api/v1/customers/{uuid.uuid4()}/360", headers=await login(stack, "admin"))
    assert r.status_code == 200
    assert r.json()["sections"]["profile"] == "unavailable"
    assert r.json()["profile"] is None


def cache_on(client: httpx.AsyncClient) -> Views:
    """The view cache as if the gateway followed the topics (the watcher itself is tested on Kafka)."""
    views = Views.build(
        ttl=60,
        max_bytes=1 << 20,
        topics={s: f"crm.{s}" for s in CONSUMERS_OF},
        groups={s: f"tessera-{s}" for s in CONSUMERS_OF},
    )
    views.freshness.set_live(True)
    GATEWAYS[client].state.views = views
    return views


async def test_a_repeat_is_answered_from_the_view_cache(stack: httpx.AsyncClient) -> None:
    views = cache_on(stack)
    admin, manager = await login(stack, "admin"), await login(stack, "manager")
    cid = await new_customer(stack, admin)
    url = f"/api/v1/customers/{cid}/360"
    first = await stack.get(url, headers=admin)
    assert first.headers["cache-status"] == "tessera-gateway; fwd=miss; stored"
    second = await stack.get(url, headers=admin)
    assert second.headers["cache-status"].startswith("tessera-gateway; hit; ttl=")
    assert (second.content, second.headers["etag"]) == (first.content, first.headers["etag"])
    assert (await stack.get(url, headers={**admin, "If-None-Match": first.headers["etag"]})).status_code == 304
    metrics = (await stack.get("/metrics")).text
    assert 'tessera_view_cache_answers_total{result="hit",stored="false"}' in metrics
    # Another caller (other roles, other object rules) gets a view of their own.
    assert (await stack.get(url, headers=manager)).headers["cache-status"] == "tessera-gateway; fwd=miss; stored"
    # Every read is audited, answered from the cache or not.
    audit = await stack.get("/api/v1/audit-log", params={"customer_id": cid}, headers=admin)
    assert sum(e["path"] == f"/api/v1/customers/{cid}/360" for e in audit.json()["items"]) == 4

    # An event about the customer drops both; until the reacting services are past it, nothing is kept.
    views.freshness.event([cid], "crm.sales", 0, 10)
    assert (await stack.get(url, headers=admin)).headers["cache-status"] == "tessera-gateway; fwd=miss"
    assert (await stack.get(url, headers=manager)).headers["cache-status"] == "tessera-gateway; fwd=miss"
    for group in ("tessera-customer", "tessera-billing"):
        views.freshness.offsets(group, {("crm.sales", 0): 11})
    assert (await stack.get(url, headers=admin)).headers["cache-status"] == "tessera-gateway; fwd=miss; stored"
    assert (await stack.get(url, headers=manager)).headers["cache-status"] == "tessera-gateway; fwd=miss; stored"

    # A write through the gateway that names the customer drops everyone's view of it at once,
    # and what it changed is in the next answer.
    patched = await stack.patch(
        f"/api/v1/customers/{cid}",
        json={"name": "Renamed Ltd"},
        headers={**admin, "If-Match": (await stack.get(f"/api/v1/customers/{cid}", headers=admin)).headers["etag"]},
    )
    assert patched.status_code == 200, patched.text
    after = await stack.get(url, headers=manager)
    assert after.headers["cache-status"] == "tessera-gateway; fwd=miss; stored"
    assert after.json()["profile"]["name"] == "Renamed Ltd"
    # Cache-Control: no-cache composes afresh (and keeps the result).
    fresh = await stack.get(url, headers={**manager, "Cache-Control": "no-cache"})
    assert fresh.headers["cache-status"] == "tessera-gateway; fwd=request; stored"


@pytest.mark.parametrize("stack", [{"down": "billing"}], indirect=True)
async def test_a_view_with_a_section_missing_is_not_kept(stack: httpx.AsyncClient) -> None:
    cache_on(stack)
    admin = await login(stack, "admin")
    cid = await new_customer(stack, admin)
    for _ in range(2):
        r = await stack.get(f"/api/v1/customers/{cid}/360", headers=admin)
        assert r.json()["sections"]["billing"] == "unavailable"
        assert r.headers["cache-status"] == "tessera-gateway; fwd=miss"


def test_compose_puts_the_services_summaries_together() -> None:
    cid = uuid.uuid4()

    def ok(body: dict[str, object]) -> Result:
        return Result("ok", body, 200)

    results = {name: ok({}) for name in fetches(cid)}
    results["customer"] = ok({"profile": {"id": str(cid)}, "contacts": [], "timeline": [], "last_csat": 1})
    results["sales"] = ok(
        {
            "customer_id": str(cid),
            "open_deals": [{"id": "d1"}],
            "recent_deals": [{"id": "d2"}, {"id": "d1"}],
            "pipeline_value": [{"currency": "JPY", "amount": "12345"}],
            "weighted_pipeline": [{"currency": "JPY", "amount": "1235"}],
            "lifetime_won": [{"currency": "KWD", "amount": "1.234"}],
            "truncated": True,
        }
    )
    results["billing"] = ok(
        {
            "open_invoices": [{"id": "i1"}],
            "recent_invoices": [],
            "truncated": False,
            "balance": [{"currency": "EUR", "amount": "130.50"}],
            "overdue_amount": [{"currency": "EUR", "amount": "120.50"}],
            "aging": None,
            "credit": None,
            "customer_credit": [],
        }
    )
    results["service"] = Result("timeout")
    body = compose(cid, results)
    # The services' figures as they answered them (rounded to each currency's minor unit there).
    assert body["sales"] == {k: v for k, v in results["sales"].body.items() if k != "customer_id"}
    assert body["billing"]["balance"] == [{"currency": "EUR", "amount": "130.50"}]
    assert body["billing"]["overdue_amount"] == [{"currency": "EUR", "amount": "120.50"}]
    assert body["billing"]["open_invoices"] == [{"id": "i1"}]
    # A section not fetched is empty, the CSAT included (the desk's, not the customer service's copy).
    assert body["service"] == {
        "open_tickets": [],
        "recent_tickets": [],
        "escalated": 0,
        "last_csat": None,
        "truncated": False,
    }
    assert body["sections"]["service"] == "timeout"
    assert body["sections"]["sales"] == "ok"
    results["service"] = ok(
        {"open_tickets": [{"id": "t1"}], "recent_tickets": [], "escalated": 1, "last_csat": 4, "truncated": False}
    )
    assert compose(cid, results)["service"]["last_csat"] == 4


async def test_sales_and_service_sections_come_from_the_services_summaries(stack: httpx.AsyncClient) -> None:
    admin, rep1, rep2 = [await login(stack, u) for u in ("admin", "rep1", "rep2")]
    cid = await new_customer(stack, admin)
    for headers, amount, currency in ((rep1, "12345", "JPY"), (rep1, "10.00", "EUR"), (rep2, "1.234", "KWD")):
        deal = {"customer_id": cid, "title": "Deal", "amount": amount, "currency": currency}
        r = await stack.post("/api/v1/deals", json=deal, headers=headers)
        assert r.status_code == 201, r.text
    r = await stack.post(
        "/api/v1/tickets", json={"customer_id": cid, "subject": "Help", "priority": "normal"}, headers=admin
    )
    assert r.status_code == 201, r.text

    view = (await stack.get(f"/api/v1/customers/{cid}/360", headers=admin)).json()
    assert set(view["sections"].values()) == {"ok"}, view["sections"]
    assert len(view["sales"]["open_deals"]) == 3
    # Rounded to each currency's minor unit (prospecting: 10 %; 1234.5 JPY rounds half up).
    assert view["sales"]["pipeline_value"] == [
        {"currency": "EUR", "amount": "10.00"},
        {"currency": "JPY", "amount": "12345"},
        {"currency": "KWD", "amount": "1.234"},
    ]
    assert view["sales"]["weighted_pipeline"] == [
        {"currency": "EUR", "amount": "1.00"},
        {"currency": "JPY", "amount": "1235"},
        {"currency": "KWD", "amount": "0.123"},
    ]
    assert [t["subject"] for t in view["service"]["open_tickets"]] == ["Help"]
    # A rep's view holds the rep's own deals and sums only.
    mine = (await stack.get(f"/api/v1/customers/{cid}/360", headers=rep1)).json()["sales"]
    assert len(mine["open_deals"]) == 2
    assert [x["currency"] for x in mine["pipeline_value"]] == ["EUR", "JPY"]
    # The summaries are internal reads: /api/v1/customers/... goes to the customer service.
    for part in ("sales-summary", "service-summary"):
        assert (await stack.get(f"/api/v1/customers/{cid}/{part}", headers=admin)).status_code == 404


async def test_data_subject_export_composes_every_service(stack: httpx.AsyncClient) -> None:
    admin = await login(stack, "admin")
    cid = await new_customer(stack, admin)
    assert (
        await stack.get(f"/api/v1/customers/{cid}/export", headers=await login(stack, "manager"))
    ).status_code == 403
    r = await stack.get(f"/api/v1/customers/{cid}/export", headers=admin)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["sections"] == {
        "customer": "ok",
        "sales": "ok",
        "service-desk": "ok",
        "billing": "ok",
        "notifications": "ok",
    }
    assert body["complete"] is True
    assert body["services"]["customer"]["customer"]["id"] == cid
    for service in ("sales", "service-desk", "billing", "notifications"):
        assert body["services"][service]["customer_id"] == cid
        assert isinstance(body["services"][service]["tables"], dict)
    audit = (await stack.get("/api/v1/audit-log", params={"customer_id": cid}, headers=admin)).json()["items"]
    assert any(e["path"].endswith("/export") for e in audit)


async def test_one_openapi_with_every_service(stack: httpx.AsyncClient) -> None:
    app = GATEWAYS[stack]
    assert await app.state.merged_openapi.refresh(app.state.clients)
    doc = (await stack.get("/openapi.json")).json()
    paths = doc["paths"]
    for path in (
        "/auth/token",
        "/api/v1/customers",
        "/api/v1/customers/{customer_id}/360",
        "/api/v1/deals",
        "/api/v1/tickets",
        "/api/v1/invoices",
        "/api/v1/audit-log",
    ):
        assert path in paths, path
    # The services' own schema routes stay internal; the gateway's public copy is documented.
    assert not any(
        p.startswith("/v1/")
        or "data-subjects" in p
        or ("/events/schemas" in p and not p.startswith("/api/v1/events/schemas"))
        for p in paths
    )
    assert "/api/v1/events/schemas/{event_type}" in paths
    assert not any(p.endswith(("/sales-summary", "/service-summary")) for p in paths)  # internal reads
    assert "x-tessera-missing" not in doc
    # Every reference resolves inside the merged document.
    import json

    refs = set(__import__("re").findall(r'"#/components/schemas/([^"]+)"', json.dumps(doc)))
    assert refs <= set(doc["components"]["schemas"])
    assert "customer.CustomerOut" in doc["components"]["schemas"]
    ops = [
        op["operationId"]
        for item in paths.values()
        for op in item.values()
        if isinstance(op, dict) and "operationId" in op
    ]
    assert len(ops) == len(set(ops))


def test_merge_keeps_gateway_routes_and_names_missing_services() -> None:
    from tessera_gateway.views.openapi import merge

    own = {"openapi": "3.1.0", "paths": {"/api/v1/customers/{customer_id}/export": {"get": {"operationId": "gw"}}}}
    svc = {
        "paths": {
            "/v1/customers/{customer_id}/export": {"get": {"operationId": "svc"}},
            "/v1/customers": {
                "get": {
                    "operationId": "list",
                    "responses": {
                        "200": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Page"}}}}
                    },
                }
            },
            "/healthz": {"get": {}},
        },
        "components": {"schemas": {"Page": {"properties": {"x": {"$ref": "#/components/schemas/Item"}}}, "Item": {}}},
    }
    doc = merge(own, {"customer": svc, "billing": None})
    assert doc["paths"]["/api/v1/customers/{customer_id}/export"]["get"]["operationId"] == "gw"
    assert doc["paths"]["/api/v1/customers"]["get"]["operationId"] == "list"
    assert "/api/healthz" not in doc["paths"]
    assert (
        doc["components"]["schemas"]["customer.Page"]["properties"]["x"]["$ref"] == "#/components/schemas/customer.Item"
    )
    assert doc["x-tessera-missing"] == ["billing"]


async def test_kpi_scorecard_answers_with_every_section(stack: httpx.AsyncClient) -> None:
    manager = await login(stack, "manager")
    params = {"since": "2026-01-01", "until": "2026-03-31"}
    assert (
        await stack.get("/api/v1/reports/kpis", params=params, headers=await login(stack, "rep1"))
    ).status_code == 403
    bad = await stack.get(
        "/api/v1/reports/kpis", params={"since": "2026-03-01", "until": "2026-01-01"}, headers=manager
    )
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "until"
    r = await stack.get("/api/v1/reports/kpis", params=params, headers=await login(stack, "admin"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body["sections"]) == {"retention", "sales", "campaign_roi", "sla", "satisfaction", "fcr", "dso"}
    assert set(body["sections"].values()) == {"ok"}, body["sections"]
    assert body["kpis"]["retention_rate_percent"] is None  # nobody was active at the start


@pytest.mark.parametrize("stack", [{"down": "billing"}], indirect=True)
async def test_kpi_scorecard_with_a_service_down(stack: httpx.AsyncClient) -> None:
    # By the range's former names (?from=&to=, still accepted).
    r = await stack.get(
        "/api/v1/reports/kpis", params={"from": "2026-01-01", "to": "2026-01-31"}, headers=await login(stack, "admin")
    )
    assert r.status_code == 200
    assert r.json()["sections"]["dso"] == "unavailable"
    assert r.json()["kpis"]["dso_days"] == []


def test_kpis_compose() -> None:
    from datetime import date

    from tessera_gateway.views import kpis

    ok = lambda body: Result("ok", body, 200)  # noqa: E731
    results = {
        "retention": ok(
            {
                "retention_rate_percent": "80.00",
                "churn_rate_percent": "5.00",
                "average_lifetime_value": "1234.50",
                "value_currency": "EUR",
            }
        ),
        "sales": ok({"win_rate": "25.0", "average_cycle_seconds": 864_000}),
        "campaigns": ok({"items": [{"id": "c1", "name": "Spring"}]}),
        "roi:c1": ok({"by_currency": [{"currency": "EUR", "roi": "1.5"}]}),
        "sla": ok({"compliance_pct": 92.5}),
        "satisfaction": ok(
            {
                "rows": [
                    {"csat_pct": 80.0, "answered": 10, "nps": 20.0, "nps_answers": 5},
                    {"csat_pct": 50.0, "answered": 30, "nps": None, "nps_answers": 0},
                ]
            }
        ),
        "fcr": Result("forbidden", None, 403),
        "dso": ok({"currencies": [{"currency": "EUR", "dso_days": "41.2"}]}),
    }
    body = kpis.compose(date(2026, 1, 1), date(2026, 1, 31), results)
    k = body["kpis"]
    assert k["csat_percent"] == 57.5  # weighted by answers
    assert k["nps"] == 20.0
    assert k["win_rate_percent"] == "25.0"
    assert k["average_sales_cycle_days"] == 10.0
    assert k["customer_lifetime_value"] == {"amount": "1234.50", "currency": "EUR"}
    assert k["campaign_roi"] == [
        {"campaign_id": "c1", "name": "Spring", "by_currency": [{"currency": "EUR", "roi": "1.5"}]}
    ]
    assert k["first_contact_resolution_percent"] is None
    assert body["sections"]["fcr"] == "forbidden"


async def test_a_pipeline_through_the_gateway_and_the_360_names_pipeline_and_stage(stack: httpx.AsyncClient) -> None:
    """A held-out client's path (issue 24 part 1): a manager makes a pipeline with its own stages, a
    rep moves a deal into one, which then cannot be removed (409); the 360 names each deal's
    pipeline and stage; the forecast is the pipeline's."""
    manager, rep1 = await login(stack, "manager"), await login(stack, "rep1")
    cid = await new_customer(stack, manager)
    stages = [{"name": "Discovery"}, {"name": "Demo", "probability": 60}]
    r = await stack.post("/api/v1/pipelines", json={"name": "Partners", "stages": stages}, headers=manager)
    assert r.status_code == 201, r.text
    pipeline = r.json()
    assert [s["key"] for s in pipeline["stages"]] == ["discovery", "demo", "won", "lost"]
    deal = {"customer_id": cid, "title": "Deal", "amount": "100.00", "currency": "EUR"}
    r = await stack.post("/api/v1/deals", json={**deal, "pipeline_id": pipeline["id"]}, headers=rep1)
    assert r.status_code == 201, r.text
    moved = await stack.patch(f"/api/v1/deals/{r.json()['id']}", json={"stage": "demo"}, headers=rep1)
    assert (moved.status_code, moved.json()["probability"]) == (200, 60)
    assert (await stack.post("/api/v1/deals", json=deal, headers=rep1)).status_code == 201
    r = await stack.delete(f"/api/v1/pipelines/{pipeline['id']}/stages/demo", headers=manager)
    assert r.status_code == 409 and r.json()["deals"] == 1

    view = (await stack.get(f"/api/v1/customers/{cid}/360", headers=manager)).json()
    named = {(d["pipeline_name"], d["stage"], d["stage_name"]) for d in view["sales"]["open_deals"]}
    assert named == {("Partners", "demo", "Demo"), ("Sales", "prospecting", "Prospecting")}
    r = await stack.get(f"/api/v1/reports/forecast?pipeline_id={pipeline['id']}", headers=manager)
    assert r.status_code == 200 and r.json()["pipeline_name"] == "Partners"
    assert [(t["deals"], t["weighted"]) for t in r.json()["totals"]] == [(1, "60.00")]
