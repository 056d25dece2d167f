"""The customer service as the other services read it (docs/domain.md §10.2): what each answer of
``GET /v1/customers/{id}`` means to ``HttpCustomerDirectory.read_customer`` (no network: a mock
transport answers for the gateway's token endpoint and the customer service)."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import httpx
from pydantic import SecretStr

from tessera_shared.customer_directory import (
    CustomerFacts,
    HttpCustomerDirectory,
    MergedAway,
    NoSuchCustomer,
    Unreachable,
)


class Endpoints:
    gateway_url = "http://gateway"
    customer_url = "http://customer"
    client_id = "svc-test"
    client_secret = SecretStr("s")
    upstream_timeout = 1.0


def directory(
    answer: Callable[[httpx.Request], httpx.Response], calls: list[str] | None = None
) -> HttpCustomerDirectory:
    def handler(request: httpx.Request) -> httpx.Response:
        if calls is not None:
            calls.append(f"{request.method} {request.url.path}")
        if request.url.path == "/auth/token":
            return httpx.Response(200, json={"access_token": "t", "expires_in": 300})
        return answer(request)

    return HttpCustomerDirectory(Endpoints(), mounts={"all://": httpx.MockTransport(handler)})


async def test_a_customer_is_its_facts() -> None:
    cid = uuid.uuid4()
    body = {"id": str(cid), "name": "Ada", "owner_id": "rep1", "status": "customer", "version": 3, "erased_at": None}
    got = await directory(lambda r: httpx.Response(200, json=body)).read_customer(cid)
    assert got == CustomerFacts(id=cid, name="Ada", owner_id="rep1", status="customer", version=3, erased=False)


async def test_an_erased_customer_says_so() -> None:
    cid = uuid.uuid4()
    body = {"id": str(cid), "name": "[erased]", "status": "customer", "erased_at": "2026-01-01T00:00:00Z"}
    got = await directory(lambda r: httpx.Response(200, json=body)).read_customer(cid)
    assert isinstance(got, CustomerFacts) and got.erased


async def test_404_is_no_such_customer_or_a_merge_naming_the_survivor() -> None:
    cid, survivor = uuid.uuid4(), uuid.uuid4()
    problem = {"content-type": "application/problem+json"}
    none = directory(lambda r: httpx.Response(404, json={"type": "urn:tessera:problem:not-found"}, headers=problem))
    assert await none.read_customer(cid) == NoSuchCustomer(cid)
    merged = directory(lambda r: httpx.Response(404, json={"merged_into": str(survivor)}, headers=problem))
    assert await merged.read_customer(cid) == MergedAway(cid, survivor)


async def test_no_answer_is_unreachable_never_a_refusal() -> None:
    cid = uuid.uuid4()
    for status in (500, 503, 403):

        def failing(request: httpx.Request, status: int = status) -> httpx.Response:
            return httpx.Response(status)

        got = await directory(failing).read_customer(cid)
        assert isinstance(got, Unreachable), status

    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    assert isinstance(await directory(down).read_customer(cid), Unreachable)


async def test_a_refused_token_is_renewed_once() -> None:
    cid = uuid.uuid4()
    calls: list[str] = []
    answers = iter([httpx.Response(401), httpx.Response(404, json={})])
    got = await directory(lambda r: next(answers), calls).read_customer(cid)
    assert got == NoSuchCustomer(cid)
    assert calls == ["POST /auth/token", f"GET /v1/customers/{cid}", "POST /auth/token", f"GET /v1/customers/{cid}"]
