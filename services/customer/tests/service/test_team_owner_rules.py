"""The owner rules' team level at the customer service (issue 24, part 4): with the gateway's signed
team scope, a team lead changes the customers of their team's members and names a member as an
owner; a rep outside the team still reads only; a scope signed for someone else changes nothing."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from services.customer.tests.helpers import create
from tessera_shared.auth import TEAM_SCOPE_HEADER
from tessera_shared.testing.builders import customer_payload
from tessera_shared.testing.plugin import bearer

TEAM = "01937b5e-0000-7000-8000-000000000001"


def lead(app: FastAPI, members: tuple[str, ...] = ("lead1", "rep1")) -> dict[str, str]:
    scope = app.state.token_codec.issue_team_scope("lead1", [TEAM], members)
    return {**bearer(app, "lead1", "sales_rep"), TEAM_SCOPE_HEADER: scope}


async def rename(client: httpx.AsyncClient, cid: str, headers: dict[str, str], name: str) -> httpx.Response:
    etag = (await client.get(f"/v1/customers/{cid}", headers=headers)).headers["etag"]
    return await client.patch(f"/v1/customers/{cid}", json={"name": name}, headers={**headers, "If-Match": etag})


async def test_a_team_lead_changes_the_members_customers(app: FastAPI, client: httpx.AsyncClient) -> None:
    of_rep1 = await create(client, app, who=("rep1", "sales_rep"))
    of_rep2 = await create(client, app, who=("rep2", "sales_rep"))
    assert (await rename(client, of_rep1["id"], lead(app), "Renamed by the lead")).status_code == 200
    assert (await rename(client, of_rep2["id"], lead(app), "Not theirs")).status_code == 403
    # Without the scope, or with one signed for another user, the lead is a rep like any other.
    assert (await rename(client, of_rep1["id"], bearer(app, "lead1", "sales_rep"), "X")).status_code == 403
    borrowed = {**bearer(app, "rep2", "sales_rep"), TEAM_SCOPE_HEADER: lead(app)[TEAM_SCOPE_HEADER]}
    assert (await rename(client, of_rep1["id"], borrowed, "X")).status_code == 403


async def test_a_team_lead_names_a_member_as_owner_not_an_outsider(app: FastAPI, client: httpx.AsyncClient) -> None:
    r = await client.post("/v1/customers", json=customer_payload(owner_id="rep1"), headers=lead(app))
    assert r.status_code == 201 and r.json()["owner_id"] == "rep1"
    r = await client.post("/v1/customers", json=customer_payload(owner_id="rep2"), headers=lead(app))
    assert r.status_code == 403
