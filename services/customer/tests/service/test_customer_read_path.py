"""GET /v1/customers/{id}: the fast read (before FastAPI's router) and the route answer the
bytes the response model wrote before (issue 25, item 3), on PostgreSQL and SQLite."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select, update

from services.customer.tests.helpers import COMPUTED_VALUES, RICH_INPUT, create, set_columns
from tessera_customer.custom_fields import CUSTOM_FIELDS
from tessera_customer.customers.filters import CustomerFilter
from tessera_customer.customers.models import AccessLog, Customer
from tessera_customer.customers.read import FAST_GET
from tessera_customer.customers.repository import CustomerRepository, load_customer
from tessera_customer.customers.schemas import CustomerOut
from tessera_customer.customers.search import SEARCH, CustomerSearch
from tessera_shared.db import read_session
from tessera_shared.http.pagination import Page, PageParams, list_scope
from tessera_shared.search import run_search
from tessera_shared.testing.plugin import bearer

pytestmark = pytest.mark.sqlite

MANAGER = ("boss", "sales_manager")
# What differs between two answers of the same record: the request id (made per request).
PER_REQUEST = {b"x-request-id"}


def headers_of(r: httpx.Response) -> list[tuple[bytes, bytes]]:
    return [(k, v) for k, v in r.headers.raw if k.lower() not in PER_REQUEST]


async def model_bytes(app: FastAPI, customer_id: str) -> bytes:
    """What the route wrote before: CustomerOut.of(the ORM object), through the response model."""
    async with read_session(app.state.runtime.sessions) as s:
        out = CustomerOut.of(await load_customer(s, uuid.UUID(customer_id)))
    return CustomerOut.model_validate(out).model_dump_json().encode()


async def customers(app: FastAPI, client: httpx.AsyncClient) -> list[dict[str, Any]]:
    r = await client.post(
        "/v1/custom-fields",
        json={"entity": "customer", "key": "employees", "label": "Employees", "type": "number"},
        headers=bearer(app, "a", "admin"),
    )
    assert r.status_code == 201, r.text
    rich = await create(
        client,
        app,
        MANAGER,
        **RICH_INPUT,
        email="zoe@example.com",
        external_id="ext-read-path",
        custom_attributes={"score": 2.5, "tiny": 1e-7, "n": 12345678901, "nested": {"a": [1, None, "ü", True]}},
        custom_fields={"employees": 120},
    )
    plain = await create(client, app, MANAGER, kind="organization", name="Acme")
    big = await create(client, app, MANAGER, name="Big", custom_attributes={"big": 2**70})
    await set_columns(app, rich["id"], **COMPUTED_VALUES, erased_at=datetime(2026, 3, 6, 1, 2, 3, 4, tzinfo=UTC))
    return [rich, plain, big]


async def test_get_answers_the_bytes_the_response_model_wrote(app: FastAPI, client: httpx.AsyncClient) -> None:
    """For each customer: the fast read's body is, byte for byte, CustomerOut written by pydantic
    (the route's answer before), and the route's own answer (an id without hyphens is not the
    fast read's canonical form, so it goes through the router) has the same headers and bytes; each
    read is audited once; the list's item is the same members in the same order."""
    records = await customers(app, client)
    h = bearer(app, "c", "billing_clerk")
    listed = {c["id"]: c for c in (await client.get("/v1/customers", headers=h)).json()["items"]}
    before = FAST_GET.served
    for record in records:
        fast = await client.get(f"/v1/customers/{record['id']}", headers=h)
        routed = await client.get(f"/v1/customers/{uuid.UUID(record['id']).hex}", headers=h)
        assert fast.status_code == routed.status_code == 200, fast.text
        assert fast.content == routed.content == await model_bytes(app, record["id"])
        assert headers_of(fast) == headers_of(routed)
        assert [k for k, _ in headers_of(fast)] == [
            b"content-length",
            b"content-type",
            b"etag",
            b"cache-control",
            b"x-content-type-options",
            b"x-tessera-route",
        ]
        assert fast.headers["etag"] == f'"{record["id"]}.{fast.json()["version"]}"'
        assert fast.headers["x-tessera-route"] == "/v1/customers/{customer_id}"
        assert json.dumps(listed[record["id"]]) == json.dumps(fast.json())
    assert FAST_GET.served - before == 3  # the ids without hyphens went the general way
    rich = (await client.get(f"/v1/customers/{records[0]['id']}", headers=h)).json()
    assert rich["value"]["lifetime_values"] == {"EUR": "1234.50", "USD": "0.10"}
    assert rich["custom_fields"] == {"employees": 120}
    assert rich["custom_attributes"]["tiny"] == 1e-7
    await app.state.runtime.rows.flush()
    async with app.state.runtime.sessions() as s:
        audited = (await s.execute(select(AccessLog.__table__.c.customer_id, AccessLog.__table__.c.principal))).all()
    reads = [(str(customer_id), who) for customer_id, who in audited if who == "c"]
    assert sorted(reads) == sorted([(r["id"], "c") for r in records for _ in range(2)] + [(records[0]["id"], "c")])


async def test_what_the_fast_read_leaves_to_the_route(app: FastAPI, client: httpx.AsyncClient) -> None:
    """?fields=, an unknown parameter, no token, a role that may not read, a missing and a merged
    customer: answered by the route as before, nothing served or audited by the fast read."""
    a = await create(client, app, MANAGER, name="Kept")
    merged = await create(client, app, MANAGER, name="Gone")
    async with app.state.runtime.sessions() as s:
        table = Customer.__table__
        await s.execute(
            update(table).where(table.c.id == uuid.UUID(merged["id"])).values(merged_into_id=uuid.UUID(a["id"]))
        )
        await s.commit()
    h = bearer(app, *MANAGER)
    before = FAST_GET.served
    r = await client.get(f"/v1/customers/{a['id']}", params={"fields": "name"}, headers=h)
    assert (r.status_code, r.json()) == (200, {"id": a["id"], "name": "Kept"})
    assert r.headers["etag"] == f'"{a["id"]}.1"'
    r = await client.get(f"/v1/customers/{a['id']}", params={"colour": "red"}, headers=h)
    assert (r.status_code, r.json()["errors"][0]["field"]) == (422, "colour")
    r = await client.get(f"/v1/customers/{a['id']}")
    assert (r.status_code, r.headers["www-authenticate"]) == (401, "Bearer")
    r = await client.get(f"/v1/customers/{a['id']}", headers=bearer(app, "p", "partner", kind="client"))
    assert r.status_code == 403 and "sales_rep" in r.json()["required_roles"]
    r = await client.get(f"/v1/customers/{uuid.uuid4()}", headers=h)
    assert (r.status_code, r.json()["type"]) == (404, "urn:tessera:problem:not-found")
    r = await client.get(f"/v1/customers/{merged['id']}", headers=h)
    assert (r.status_code, r.json()["merged_into"]) == (404, a["id"])
    assert r.headers["x-tessera-route"] == "/v1/customers/{customer_id}"
    assert FAST_GET.served == before


async def model_page(app: FastAPI, body: dict[str, Any]) -> bytes:
    """What the search route wrote before: its page of ORM objects as Page[CustomerOut]."""
    async with read_session(app.state.runtime.sessions) as s:
        search = await CUSTOM_FIELDS.searchable(s, "customer", SEARCH)
        rows, cursor = await run_search(s, search, CustomerFilter().apply(select(Customer)), CustomerSearch(**body))
    return Page[CustomerOut](items=[CustomerOut.of(r) for r in rows], next_cursor=cursor).model_dump_json().encode()


async def test_search_answers_the_bytes_the_page_model_wrote(app: FastAPI, client: httpx.AsyncClient) -> None:
    """POST /v1/customers/search writes its page from rows of columns (customers/answer.py): each
    page, walked two at a time in every kind of order (the id, a sort key, a decimal descending, a
    custom field with customers lacking it, free text), is byte for byte the page the ORM objects
    gave through Page[CustomerOut], next_cursor included; a page with an integer past 64 bits too."""
    records = await customers(app, client)
    for i, employees in enumerate((7, None, 120, None)):
        extra = {} if employees is None else {"custom_fields": {"employees": employees}}
        records.append(await create(client, app, MANAGER, name=f"Zed {i}", **extra))
    await set_columns(app, records[3]["id"], monetary=Decimal("1234.5678"))  # a tie with the rich one
    h = bearer(app, *MANAGER)
    bodies: list[dict[str, Any]] = [
        {},
        {"sorts": [{"property": "name"}]},
        {"sorts": [{"property": "monetary", "direction": "desc"}]},
        {"sorts": [{"property": "created_at"}]},
        {"sorts": [{"property": "custom_fields.employees", "direction": "desc"}]},
        {"sorts": [{"property": "custom_fields.employees"}]},
        {"query": "zed", "sorts": [{"property": "name", "direction": "desc"}]},
        {"filter_groups": [{"filters": [{"property": "kind", "operator": "eq", "value": "organization"}]}]},
    ]
    for body in bodies:
        seen: list[str] = []
        after = None
        while True:
            page = {**body, "limit": 2, **({"after": after} if after else {})}
            r = await client.post("/v1/customers/search", json=page, headers=h)
            assert r.status_code == 200, r.text
            assert r.headers["content-type"] == "application/json"
            assert r.content == await model_page(app, page), body
            seen += [c["id"] for c in r.json()["items"]]
            after = r.json()["next_cursor"]
            if after is None:
                break
        expected = 1 if "filter_groups" in body else 4 if "query" in body else len(records)
        assert len(seen) == len(set(seen)) == expected, body


async def model_list_page(app: FastAPI, params: dict[str, Any]) -> bytes:
    """What the list route wrote before: CustomerRepository.list's ORM objects as Page[CustomerOut]."""
    async with read_session(app.state.runtime.sessions) as s:
        scope = list_scope("/v1/customers", [(k, str(v)) for k, v in params.items()])
        page = PageParams(limit=params.get("limit", 50), cursor=params.get("cursor"), scope=scope)
        filters = CustomerFilter(**{k: v for k, v in params.items() if k not in ("limit", "cursor")})
        rows, cursor = await CustomerRepository(s).list(page, filters)
    return Page[CustomerOut](items=[CustomerOut.of(r) for r in rows], next_cursor=cursor).model_dump_json().encode()


async def test_list_answers_the_bytes_the_page_model_wrote(app: FastAPI, client: httpx.AsyncClient) -> None:
    """GET /v1/customers writes its page from rows of columns too: every page of a walk two at a
    time (by id, by a name prefix, filtered) is the old route's bytes, next_cursor included;
    ?fields= still trims each item."""
    records = await customers(app, client)
    for i in range(3):
        records.append(await create(client, app, MANAGER, name=f"Zed {i}", kind="organization"))
    h = bearer(app, *MANAGER)
    for params in ({}, {"q": "zed"}, {"kind": "organization"}, {"q": "z"}):
        seen: list[str] = []
        cursor = None
        while True:
            query = {**params, "limit": 2, **({"cursor": cursor} if cursor else {})}
            r = await client.get("/v1/customers", params=query, headers=h)
            assert r.status_code == 200, r.text
            assert r.content == await model_list_page(app, query), params
            seen += [c["id"] for c in r.json()["items"]]
            cursor = r.json()["next_cursor"]
            if cursor is None:
                break
        assert len(seen) == len(set(seen)) > 0
    r = await client.get("/v1/customers", params={"fields": "name", "limit": 1}, headers=h)
    assert r.status_code == 200 and list(r.json()["items"][0]) == ["id", "name"]
