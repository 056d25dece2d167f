"""POST/GET /v1/customers: the skeleton's customer resource, on PostgreSQL and SQLite."""

from __future__ import annotations

import uuid

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select

from tessera_customer.customers.models import Customer
from tessera_shared.infra_tables import outbox
from tessera_shared.testing.builders import customer_payload
from tessera_shared.testing.plugin import bearer

PROBLEM = "application/problem+json"


async def count(app: FastAPI, table) -> int:
    async with app.state.runtime.sessions() as s:
        return int(await s.scalar(select(func.count()).select_from(table)))


class TestCreateCustomer:
    async def test_creates_and_records_event_in_same_transaction(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        r = await client.post(
            "/v1/customers", json=customer_payload(email="Ada@Example.COM"), headers=bearer(app, "rep1", "sales_rep")
        )
        assert r.status_code == 201, r.text
        body = r.json()
        assert body["email"] == "ada@example.com"
        assert body["owner_id"] == "rep1"  # a rep's new customer is the rep's own
        assert body["status"] == "prospect"
        assert r.headers["location"] == f"/v1/customers/{body['id']}"
        assert r.headers["etag"]
        async with app.state.runtime.sessions() as s:
            rows = (await s.execute(select(outbox.c.event_type, outbox.c.key))).all()
        assert [(t, k) for t, k in rows] == [("customer.created", body["id"])]

    async def test_requires_token(self, client: httpx.AsyncClient) -> None:
        r = await client.post("/v1/customers", json=customer_payload())
        assert r.status_code == 401
        assert r.headers["content-type"] == PROBLEM
        assert r.headers["www-authenticate"].startswith("Bearer")

    async def test_rejects_forged_token(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        token = bearer(app, "rep1", "sales_rep")["Authorization"]
        r = await client.post("/v1/customers", json=customer_payload(), headers={"Authorization": token[:-3] + "abc"})
        assert r.status_code == 401

    async def test_partner_may_not_create(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        r = await client.post(
            "/v1/customers", json=customer_payload(), headers=bearer(app, "p", "partner", kind="client")
        )
        assert r.status_code == 403
        assert r.json()["type"] == "urn:tessera:problem:forbidden"
        assert await count(app, Customer) == 0

    async def test_idempotency_key_replays_first_result(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        headers = {**bearer(app, "rep1", "sales_rep"), "Idempotency-Key": "abc-1"}
        payload = customer_payload()
        first = await client.post("/v1/customers", json=payload, headers=headers)
        second = await client.post("/v1/customers", json=payload, headers=headers)
        assert first.status_code == second.status_code == 201
        assert second.json() == first.json()
        assert second.headers["idempotent-replayed"] == "true"
        assert await count(app, Customer) == 1
        assert await count(app, outbox) == 1

    async def test_idempotency_key_reused_for_other_body_is_rejected(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        headers = {**bearer(app, "rep1", "sales_rep"), "Idempotency-Key": "abc-2"}
        assert (await client.post("/v1/customers", json=customer_payload(), headers=headers)).status_code == 201
        r = await client.post("/v1/customers", json=customer_payload(), headers=headers)
        assert r.status_code == 422
        assert r.json()["errors"][0]["field"] == "Idempotency-Key"
        assert await count(app, Customer) == 1


class TestBadInput:
    async def test_malformed_json_names_body(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        r = await client.post(
            "/v1/customers",
            content=b'{"kind": "person", "name":',
            headers={**bearer(app, "a", "admin"), "content-type": "application/json"},
        )
        assert r.status_code == 422
        assert r.headers["content-type"] == PROBLEM
        assert r.json()["errors"][0]["field"] == "body"

    async def test_unknown_field_and_wrong_type_are_named(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        r = await client.post(
            "/v1/customers", json={"kind": "robot", "name": 5, "colour": "red"}, headers=bearer(app, "a", "admin")
        )
        assert r.status_code == 422
        fields = {e["field"] for e in r.json()["errors"]}
        assert fields == {"kind", "name", "colour"}
        assert await count(app, Customer) == 0

    async def test_invalid_email(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        r = await client.post(
            "/v1/customers", json=customer_payload(email="not-an-email"), headers=bearer(app, "a", "admin")
        )
        assert r.status_code == 422
        assert r.json()["errors"][0]["field"] == "email"

    async def test_oversized_body_is_413(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        big = customer_payload(name="x" * 2_000_000)
        r = await client.post("/v1/customers", json=big, headers=bearer(app, "a", "admin"))
        assert r.status_code == 413
        assert r.headers["content-type"] == PROBLEM
        assert await count(app, Customer) == 0

    async def test_oversized_page_names_limit(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        r = await client.get("/v1/customers?limit=201", headers=bearer(app, "a", "admin"))
        assert r.status_code == 422
        assert r.json()["errors"][0]["field"] == "limit"

    async def test_garbage_cursor_names_cursor(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        r = await client.get("/v1/customers?cursor=%%%garbage", headers=bearer(app, "a", "admin"))
        assert r.status_code == 422
        assert r.json()["errors"][0]["field"] == "cursor"

    async def test_bad_id_is_422_not_500(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        r = await client.get("/v1/customers/not-a-uuid", headers=bearer(app, "a", "admin"))
        assert r.status_code == 422
        assert r.json()["errors"][0]["field"] == "customer_id"


class TestReadCustomers:
    async def test_get_one_with_etag(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        h = bearer(app, "a", "admin")
        created = (await client.post("/v1/customers", json=customer_payload(), headers=h)).json()
        r = await client.get(f"/v1/customers/{created['id']}", headers=bearer(app, "c", "billing_clerk"))
        assert r.status_code == 200
        assert r.json() == created
        assert r.headers["etag"] == f'"{created["id"]}.1"'

    async def test_unknown_is_404_problem(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        r = await client.get(f"/v1/customers/{uuid.uuid4()}", headers=bearer(app, "a", "admin"))
        assert r.status_code == 404
        assert r.json()["type"] == "urn:tessera:problem:not-found"

    async def test_partner_reads_no_personal_data(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        r = await client.get("/v1/customers", headers=bearer(app, "p", "partner", kind="client"))
        assert r.status_code == 403

    async def test_cursor_walks_every_customer_once(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        h = bearer(app, "a", "admin")
        ids = [(await client.post("/v1/customers", json=customer_payload(), headers=h)).json()["id"] for _ in range(7)]
        seen: list[str] = []
        cursor = None
        pages = 0
        while True:
            params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
            page = (await client.get("/v1/customers", params=params, headers=h)).json()
            seen += [c["id"] for c in page["items"]]
            pages += 1
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert seen == sorted(ids)  # time-ordered ids: creation order
        assert pages == 3

    async def test_a_cursor_pages_only_the_list_and_filters_that_made_it(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        h = bearer(app, "a", "admin")
        for owner in ("rep1", "rep1", "rep1", "rep2"):
            await client.post("/v1/customers", json=customer_payload(owner_id=owner), headers=h)
        first = (await client.get("/v1/customers", params={"owner_id": "rep1", "limit": 1}, headers=h)).json()
        cursor = first["next_cursor"]
        # The same list and filters go on, with another page size and item fields too.
        same = {"owner_id": "rep1", "limit": 5, "fields": "id,owner_id", "cursor": cursor}
        r = await client.get("/v1/customers", params=same, headers=h)
        assert r.status_code == 200 and [c["owner_id"] for c in r.json()["items"]] == ["rep1", "rep1"]
        for path, params in [
            ("/v1/customers", {"owner_id": "rep2"}),  # another filter
            ("/v1/customers", {}),  # the filter dropped
            ("/v1/customers/duplicates", {}),  # another list
        ]:
            r = await client.get(path, params={**params, "cursor": cursor}, headers=h)
            assert r.status_code == 422, (path, params, r.text)
            assert r.json()["errors"][0]["field"] == "cursor"

    async def test_filters_by_owner_and_email(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        h = bearer(app, "a", "admin")
        mine = (await client.post("/v1/customers", json=customer_payload(owner_id="rep2"), headers=h)).json()
        await client.post("/v1/customers", json=customer_payload(owner_id="rep1"), headers=h)
        r = await client.get("/v1/customers", params={"owner_id": "rep2"}, headers=h)
        assert [c["id"] for c in r.json()["items"]] == [mine["id"]]
        r = await client.get("/v1/customers", params={"email": mine["email"].upper()}, headers=h)
        assert [c["id"] for c in r.json()["items"]] == [mine["id"]]
