"""The gateway's edge (issue 17): ambiguous paths, bad header values, header and body bounds,
security headers, service paths that must not leak, CORS headers and the metrics' route label."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import httpx2
import pytest
from fastapi import FastAPI
from prometheus_client import REGISTRY

import tessera_customer.main as customer_main
import tessera_gateway.main as gateway_main
import tessera_service_desk.main as desk_main
from tessera_customer.settings import CustomerSettings
from tessera_gateway.main import create_app
from tessera_gateway.proxy.router import IMPORT_PATHS, IMPORT_ROLES, public_link
from tessera_gateway.settings import GatewaySettings
from tessera_service_desk.settings import ServiceDeskSettings
from tessera_shared.testing.builders import customer_payload
from tessera_shared.testing.customers import StubCustomers
from tessera_shared.testing.databases import DatabaseFactory
from tessera_shared.testing.plugin import migrations_of, running

PROBLEM = "application/problem+json"


async def login(client: httpx.AsyncClient, user: str) -> dict[str, str]:
    r = await client.post("/auth/token", data={"grant_type": "password", "username": user, "password": "local"})
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


class Stack:
    def __init__(self, client: httpx.AsyncClient, gateway: FastAPI, customer: FastAPI, desk: FastAPI) -> None:
        self.client, self.gateway, self.customer, self.desk = client, gateway, customer, desk


@pytest.fixture
async def stack(databases: DatabaseFactory) -> AsyncIterator[Stack]:
    customer = customer_main.create_app(
        CustomerSettings(
            database_url=await databases.new("customer", "postgres", migrations_of(customer_main.__file__)),
            kafka_enabled=False,
            jobs_enabled=False,
            log_json=False,
        )
    )
    desk = desk_main.create_app(
        ServiceDeskSettings(
            database_url=await databases.new("service-desk", "postgres", migrations_of(desk_main.__file__)),
            kafka_enabled=False,
            jobs_enabled=False,
            log_json=False,
        )
    )
    desk.state.customer_directory = StubCustomers()  # no event carries the customer to the desk here
    gateway = create_app(
        GatewaySettings(
            database_url=await databases.new("gateway", "postgres", migrations_of(gateway_main.__file__)),
            log_json=False,
            view_cache_enabled=False,
            customer_url="http://customer.test",
            service_desk_url="http://desk.test",
            sales_url="http://127.0.0.1:1",
            billing_url="http://127.0.0.1:1",
            cors_origins=["https://app.example.com"],
        ),
        mounts={
            "http://customer.test": httpx2.ASGITransport(app=customer),
            "http://desk.test": httpx2.ASGITransport(app=desk),
        },
    )
    async with (
        customer.router.lifespan_context(customer),
        desk.router.lifespan_context(desk),
        running(gateway) as client,
    ):
        yield Stack(client, gateway, customer, desk)


async def audited(stack: Stack) -> list[dict]:
    r = await stack.client.get("/api/v1/audit-log", headers=await login(stack.client, "admin"))
    assert r.status_code == 200, r.text
    return r.json()["items"]


# --- 2: dot segments and encoded slashes ------------------------------------------------------


@pytest.mark.parametrize(
    "template",
    [
        "/api/v1/segments/..%2Fcustomers%2F{cid}",
        "/api/v1/segments/..%2fcustomers%2f{cid}",
        "/api/v1/segments/%2e%2e/customers/{cid}",
        "/api/v1/segments/%2E%2E%2Fcustomers/{cid}",
        "/api/v1/segments/.%2F..%2Fcustomers/{cid}",
        "/api/v1/segments/..%5Ccustomers%5C{cid}",
        "/api/v1/segments/%5C..%5Ccustomers/{cid}",
        "/api/v1/kb/..%2Fcustomers/{cid}",
        "/api/v1/customers/%2e/{cid}",
    ],
)
async def test_dot_segments_and_encoded_slashes_are_refused_before_routing(stack: Stack, template: str) -> None:
    admin = await login(stack.client, "admin")
    cid = (await stack.client.post("/api/v1/customers", json=customer_payload(), headers=admin)).json()["id"]
    agent = await login(stack.client, "agent")
    r = await stack.client.get(template.format(cid=cid), headers=agent)
    assert r.status_code == 404, r.text
    assert r.headers["content-type"] == PROBLEM
    assert r.json()["type"] == "urn:tessera:problem:not-found"
    assert r.json()["field"] == "path"
    assert cid not in r.text
    assert await audited(stack) == []  # nothing was read, nothing to audit


async def test_kb_path_cannot_reach_tickets(stack: Stack) -> None:
    agent = await login(stack.client, "agent")
    assert (
        await stack.client.post(
            "/api/v1/tickets",
            json={"customer_id": str(uuid.uuid4()), "subject": "Hi", "priority": "normal"},
            headers=agent,
        )
    ).status_code == 201
    r = await stack.client.get("/api/v1/kb/..%2Ftickets", headers=agent)
    assert r.status_code == 404
    assert "items" not in r.json()


async def test_services_refuse_ambiguous_paths_too(stack: Stack) -> None:
    """Defence in depth: a service reached directly refuses them the same way."""
    transport = httpx.ASGITransport(app=stack.customer)
    async with httpx.AsyncClient(transport=transport, base_url="http://customer") as direct:
        from tessera_shared.testing.plugin import bearer

        headers = bearer(stack.customer, "admin", "admin")
        for path in ("/v1/segments/..%2Fcustomers", "/v1/segments/%2e%2e/customers", "/v1/customers%5Cx"):
            r = await direct.get(path, headers=headers)
            assert (r.status_code, r.headers["content-type"]) == (404, PROBLEM), path


async def test_percent_signs_are_forwarded_as_the_gateway_decoded_them(stack: Stack) -> None:
    """`%252F` is decoded once by the gateway (to `%2F`) and must reach the service as that
    text, not decoded a second time into a slash."""
    admin = await login(stack.client, "admin")
    cid = (await stack.client.post("/api/v1/customers", json=customer_payload(), headers=admin)).json()["id"]
    r = await stack.client.get(f"/api/v1/segments/..%252Fcustomers%252F{cid}", headers=admin)
    assert r.status_code == 422, r.text  # the segment id the gateway routed: not a UUID
    assert r.json()["errors"][0]["field"] == "segment_id"


# --- 4: non-ASCII and control characters -------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("Idempotency-Key", "k\xe9y"),
        ("Accept-Language", "fr-\xe9"),
        ("If-Match", '"\xe9"'),
        ("Accept", "application/js\xf6n"),
        ("If-None-Match", '"\x01"'),
        ("Content-Type", "application/json\x7f"),
    ],
)
async def test_non_ascii_header_values_are_a_422_naming_the_header(stack: Stack, name: str, value: str) -> None:
    admin = await login(stack.client, "admin")
    r = await stack.client.post(
        "/api/v1/customers",
        content=b"{}",
        # httpx sends a bytes value as it is (the point here); its annotation wants all str or all bytes.
        headers={**admin, "Content-Type": "application/json", name: value.encode("latin-1")},  # type: ignore[arg-type]
    )
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == PROBLEM
    (error,) = r.json()["errors"]
    assert (error["field"], error["location"]) == (name, "header")


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/customers/%7F",
        "/api/v1/customers/%01",
        "/api/v1/customers/%C3%A9",
        "/api/v1/customers/a%3Fb",
        "/api/v1/customers/%23",
        "/api/v1/customers/%25",
    ],
)
async def test_odd_path_characters_get_the_services_answer(stack: Stack, path: str) -> None:
    r = await stack.client.get(path, headers=await login(stack.client, "admin"))
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == PROBLEM
    assert r.json()["errors"][0]["field"] == "customer_id"


# --- 5: header size and the import's role -------------------------------------------------------


async def test_oversized_request_headers_are_431_at_the_gateway_and_the_services(stack: Stack) -> None:
    admin = await login(stack.client, "admin")
    r = await stack.client.get("/api/v1/customers", headers={**admin, "X-Filler": "a" * 200_000})
    assert r.status_code == 431
    assert r.headers["content-type"] == PROBLEM
    assert r.json()["type"] == "urn:tessera:problem:request-header-fields-too-large"
    ok = await stack.client.get("/api/v1/customers", headers={**admin, "X-Filler": "a" * 8_000})
    assert ok.status_code == 200
    transport = httpx.ASGITransport(app=stack.customer)
    async with httpx.AsyncClient(transport=transport, base_url="http://customer") as direct:
        assert (await direct.get("/healthz", headers={"X-Filler": "a" * 17_000})).status_code == 431


def test_the_gateway_knows_who_may_import() -> None:
    """The gateway's copy of the customer service's rule on its import paths (one per format and
    the deprecated one), and of the paths themselves."""
    doc = customer_main.create_app(CustomerSettings(kafka_enabled=False)).openapi()
    imports = {path: ops for path, ops in doc["paths"].items() if path.startswith("/v1/customers/import")}
    assert {f"/api{path}" for path in imports} == IMPORT_PATHS
    for ops in imports.values():
        (security,) = ops["post"]["security"]
        assert set(security["tessera"]) == {*IMPORT_ROLES, "admin"}


async def test_import_from_a_role_that_may_not_import_is_refused_before_the_body_is_read(stack: Stack) -> None:
    sent = 0

    async def body() -> AsyncIterator[bytes]:
        nonlocal sent
        yield b"external_id,kind,name\n"
        for n in range(2_000):  # 2,000 x 8 KiB = 16 MiB
            sent += 1
            yield f"e-{n},person,{'x' * 8_000}\n".encode()

    agent = await login(stack.client, "agent")
    manager = await login(stack.client, "manager")
    for n, path in enumerate(sorted(IMPORT_PATHS)):
        sent = 0
        r = await stack.client.post(path, content=body(), headers={**agent, "Content-Type": "text/csv"})
        assert r.status_code == 403, path
        assert r.json()["required_roles"] == ["admin", "sales_manager", "service"]
        assert sent <= 1  # the gateway answered without reading (let alone forwarding) the body
        ndjson = path.endswith("/ndjson")
        r = await stack.client.post(
            path,
            content=f'{{"external_id": "e-{n}", "kind": "person", "name": "Ada"}}\n'.encode()
            if ndjson
            else f"external_id,kind,name\ne-{n},person,Ada\n".encode(),
            headers={**manager, "Content-Type": "application/x-ndjson" if ndjson else "text/csv"},
        )
        assert r.status_code == 200, r.text
        assert r.json()["created"] == 1


# --- 8: nosniff and no-store ------------------------------------------------------------------


async def test_personal_data_is_no_store_and_nosniff_everywhere(stack: Stack) -> None:
    admin = await login(stack.client, "admin")
    created = await stack.client.post("/api/v1/customers", json=customer_payload(), headers=admin)
    read = await stack.client.get(f"/api/v1/customers/{created.json()['id']}", headers=admin)
    missing = await stack.client.get(f"/api/v1/customers/{uuid.uuid4()}", headers=admin)
    token = await stack.client.post(
        "/auth/token", data={"grant_type": "password", "username": "rep1", "password": "local"}
    )
    for r in (created, read, missing, token):
        assert r.headers["cache-control"] == "no-store", r.request.url
        assert r.headers["x-content-type-options"] == "nosniff"
    health = await stack.client.get("/healthz")
    assert health.headers["x-content-type-options"] == "nosniff"
    assert "cache-control" not in health.headers
    # A conditional read still works under no-store.
    again = await stack.client.get(
        f"/api/v1/customers/{created.json()['id']}", headers={**admin, "If-None-Match": read.headers["etag"]}
    )
    assert again.status_code in (200, 304)
    transport = httpx.ASGITransport(app=stack.customer)
    async with httpx.AsyncClient(transport=transport, base_url="http://customer") as direct:
        from tessera_shared.testing.plugin import bearer

        r = await direct.get("/v1/customers", headers=bearer(stack.customer, "admin", "admin"))
        assert (r.headers["cache-control"], r.headers["x-content-type-options"]) == ("no-store", "nosniff")


# --- 10: service paths never leak -----------------------------------------------------------------


async def test_location_instance_and_redirects_name_the_gateways_paths(stack: Stack) -> None:
    admin = await login(stack.client, "admin")
    created = await stack.client.post("/api/v1/customers", json=customer_payload(), headers=admin)
    assert created.headers["location"] == f"/api/v1/customers/{created.json()['id']}"
    missing_id = uuid.uuid4()
    missing = await stack.client.get(f"/api/v1/customers/{missing_id}", headers=admin)
    assert missing.json()["instance"] == f"/api/v1/customers/{missing_id}"
    redirect = await stack.client.get("/api/v1/customers/", headers=admin)
    assert redirect.status_code == 307
    assert redirect.headers["location"] == "/api/v1/customers"
    assert "x-tessera-route" not in redirect.headers
    for r in (created, missing, redirect):
        assert "customer.test" not in r.text and "customer.test" not in str(r.headers)


def test_public_link() -> None:
    ups = {"sales": "http://127.0.0.1:8002", "customer": "http://customer.test"}
    assert public_link("http://127.0.0.1:8002/v1/deals", ups) == "/api/v1/deals"
    assert public_link("http://127.0.0.1:8002/v1/deals?x=1", ups) == "/api/v1/deals?x=1"
    assert public_link("http://customer.test:80/v1/customers", ups) == "/api/v1/customers"
    assert public_link("http://customer.test:8080/v1/customers", ups) == "http://customer.test:8080/v1/customers"
    assert public_link("/v1/customers/1/contacts/2", ups) == "/api/v1/customers/1/contacts/2"
    assert public_link("https://elsewhere.example.com/v1/x", ups) == "https://elsewhere.example.com/v1/x"
    assert public_link("/api/v1/customers", ups) == "/api/v1/customers"


async def test_the_survey_link_a_customer_gets_works_at_the_gateway(stack: Stack) -> None:
    agent = await login(stack.client, "agent")
    ticket = (
        await stack.client.post(
            "/api/v1/tickets",
            json={"customer_id": str(uuid.uuid4()), "subject": "Hi", "priority": "normal"},
            headers=agent,
        )
    ).json()
    for status in ("solved", "closed"):
        r = await stack.client.patch(f"/api/v1/tickets/{ticket['id']}", json={"status": status}, headers=agent)
        assert r.status_code == 200, r.text
    link = r.json()["survey_url"]
    assert link.startswith("/api/v1/surveys/")
    survey = await stack.client.get(link)  # the customer has no token: the link is the credential
    assert survey.status_code == 200, survey.text
    # Opened in a mail client's browser: the survey's page, whose form posts through the gateway.
    html = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
    page = await stack.client.get(link, headers=html)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html"), page.text
    action = page.text.split('<form method="post" action="', 1)[1].split('"', 1)[0].replace("&amp;", "&")
    assert action == link.replace("?token=", "/answer?token=")
    form = {**html, "Content-Type": "application/x-www-form-urlencoded"}
    thanked = await stack.client.post(action, content=b"csat=5&nps=10&comment=", headers=form)
    assert thanked.status_code == 200 and "<h1>Thank you</h1>" in thanked.text, thanked.text
    assert (await stack.client.get(link)).json()["csat"] == 5
    answered = await stack.client.post(link.replace("?token=", "/answer?token="), json={"csat": 5})
    assert answered.status_code == 409, answered.text  # the API's JSON answer, as before
    assert answered.json()["type"] == "urn:tessera:problem:survey-already-answered"


# --- 15: CORS headers and the metrics' route label ------------------------------------------------


async def test_cors_allows_the_conditional_and_tracing_headers(stack: Stack) -> None:
    r = await stack.client.options(
        "/api/v1/customers",
        headers={
            "Origin": "https://app.example.com",
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "If-None-Match, Cache-Control, traceparent, If-Match",
        },
    )
    assert r.status_code == 200, r.text
    allowed = {h.strip().lower() for h in r.headers["access-control-allow-headers"].split(",")}
    assert {"if-none-match", "cache-control", "traceparent", "if-match"} <= allowed


def _count(route: str, status: str) -> float:
    return (
        REGISTRY.get_sample_value(
            "tessera_http_requests_total", {"service": "gateway", "method": "GET", "route": route, "status": status}
        )
        or 0.0
    )


async def test_forwarded_calls_are_labelled_with_the_upstream_route(stack: Stack) -> None:
    admin = await login(stack.client, "admin")
    cid = (await stack.client.post("/api/v1/customers", json=customer_payload(), headers=admin)).json()["id"]
    before = _count("/api/v1/customers/{customer_id}", "200")
    before_list = _count("/api/v1/customers", "200")
    for _ in range(3):
        assert (await stack.client.get(f"/api/v1/customers/{cid}", headers=admin)).status_code == 200
    assert (await stack.client.get("/api/v1/customers", headers=admin)).status_code == 200
    assert _count("/api/v1/customers/{customer_id}", "200") == before + 3
    assert _count("/api/v1/customers", "200") == before_list + 1
    metrics = (await stack.client.get("/metrics")).text
    assert f"/api/v1/customers/{cid}" not in metrics  # ids never become labels
