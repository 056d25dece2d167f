"""Owners on create follow PATCH's rule; who records consent (issue 17, item 6).

A rep could name another user (or one that does not exist) as ``owner_id`` when creating a
customer, which PATCH forbids. Consent: a withdrawal anyone who writes consent may record, on any
customer; consent *given* a sales rep records for their own customers only (as PATCH).
"""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from services.customer.tests.helpers import count, create
from tessera_customer.customers.models import Customer
from tessera_shared.testing.builders import customer_payload
from tessera_shared.testing.plugin import bearer

REP1 = ("rep1", "sales_rep")


async def post(client: httpx.AsyncClient, app: FastAPI, who: tuple[str, ...], **fields: object) -> httpx.Response:
    return await client.post("/v1/customers", json=customer_payload(**fields), headers=bearer(app, *who))


@pytest.mark.parametrize("owner", ["rep2", "nobody-such"])
async def test_a_rep_may_not_name_another_owner(app: FastAPI, client: httpx.AsyncClient, owner: str) -> None:
    r = await post(client, app, REP1, owner_id=owner)
    assert r.status_code == 403, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert await count(app, Customer) == 0  # nothing stored
    # The same rule PATCH applies.
    mine = await create(client, app, who=REP1)
    etag = (await client.get(f"/v1/customers/{mine['id']}", headers=bearer(app, *REP1))).headers["etag"]
    r = await client.patch(
        f"/v1/customers/{mine['id']}", json={"owner_id": owner}, headers={**bearer(app, *REP1), "If-Match": etag}
    )
    assert r.status_code == 403, r.text


async def test_who_names_which_owner(app: FastAPI, client: httpx.AsyncClient) -> None:
    assert (await post(client, app, REP1, owner_id="rep1")).json()["owner_id"] == "rep1"
    assert (await post(client, app, REP1)).json()["owner_id"] == "rep1"
    assert (await post(client, app, ("boss", "sales_manager"), owner_id="rep2")).json()["owner_id"] == "rep2"
    assert (await post(client, app, ("svc", "service"), owner_id="rep2")).json()["owner_id"] == "rep2"
    assert (await post(client, app, ("a", "admin"), owner_id="rep2")).json()["owner_id"] == "rep2"
    agent = ("g", "support_agent")
    assert (await post(client, app, agent, owner_id="rep2")).status_code == 403
    assert (await post(client, app, agent)).json()["owner_id"] is None  # to the pool, as before


async def consent(
    client: httpx.AsyncClient, app: FastAPI, cid: str, who: tuple[str, ...], granted: bool
) -> httpx.Response:
    return await client.post(
        f"/v1/customers/{cid}/consents",
        headers=bearer(app, *who),
        json={"purpose": "marketing_email", "granted": granted, "source": "phone_call"},
    )


@pytest.mark.sqlite
async def test_consent_given_follows_the_owner_rule_withdrawal_does_not(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    theirs = (await create(client, app, who=("rep2", "sales_rep")))["id"]
    pooled = (await create(client, app))["id"]  # an admin's: nobody owns it
    for cid in (theirs, pooled):
        r = await consent(client, app, cid, REP1, True)
        assert r.status_code == 403, r.text
        assert (await consent(client, app, cid, REP1, False)).status_code == 201
    current = (await client.get(f"/v1/customers/{theirs}/consents", headers=bearer(app, *REP1))).json()["current"]
    assert [(c["granted"], c["recorded_by"]) for c in current] == [(False, "rep1")]
    assert (await consent(client, app, theirs, ("rep2", "sales_rep"), True)).status_code == 201
    for who in (("boss", "sales_manager"), ("g", "support_agent"), ("svc", "service"), ("a", "admin")):
        assert (await consent(client, app, theirs, who, True)).status_code == 201, who
    assert (await consent(client, app, theirs, ("c", "billing_clerk"), False)).status_code == 403
