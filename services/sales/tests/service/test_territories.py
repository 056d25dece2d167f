"""Territory routing of new leads in sales (docs/domain.md §12): a lead whose country and region
match a team's territory belongs to that team (team_id in the record and lead.created); a manager
may name the team, a rep may not; a deal made from the lead belongs to the lead's team."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from tessera_sales.testing import Api
from tessera_shared.auth import TEAM_SCOPE_HEADER
from tessera_shared.events.contracts.gateway import TeamCreated, TeamTerritory

pytestmark = pytest.mark.sqlite

NORTH, SOUTH = uuid.uuid4(), uuid.uuid4()


def team(team_id: uuid.UUID, key: str, country: str | None, region: str | None = None) -> TeamCreated:
    return TeamCreated(
        team_id=team_id,
        key=key,
        name=key.title(),
        lead=f"{key}-lead",
        members=[f"{key}-lead", "rep1"],
        territories=[TeamTerritory(country=country, region=region)],
        version=1,
        updated_at=datetime.now(UTC),
    )


async def test_new_leads_are_routed_and_their_deals_follow(api: Api) -> None:
    await api.consume(team(NORTH, "north", "DE"))
    await api.consume(team(SOUTH, "south", "DE", "Bavaria"))
    lead = {"name": "Lead", "company": "Acme", "source": "web_form"}
    r = await api.client.post("/v1/leads", json={**lead, "country": "DE", "region": "Bavaria"}, headers=api.rep1)
    assert r.status_code == 201, r.text
    south = r.json()
    assert (south["team_id"], south["country"], south["region"]) == (str(SOUTH), "DE", "Bavaria")
    r = await api.client.post("/v1/leads", json={**lead, "country": "DE"}, headers=api.rep1)
    assert r.json()["team_id"] == str(NORTH)
    r = await api.client.post("/v1/leads", json={**lead, "country": "FR"}, headers=api.rep1)
    assert r.json()["team_id"] is None
    created = {e["data"]["lead_id"]: e["data"].get("team_id") for e in await api.events("lead.created")}
    assert created[south["id"]] == str(SOUTH)

    # A manager names the team; a rep may not; an unknown team is refused by name.
    r = await api.client.post("/v1/leads", json={**lead, "team_id": str(NORTH)}, headers=api.manager)
    assert r.status_code == 201 and r.json()["team_id"] == str(NORTH)
    assert (
        await api.client.post("/v1/leads", json={**lead, "team_id": str(NORTH)}, headers=api.rep1)
    ).status_code == 403
    r = await api.client.post("/v1/leads", json={**lead, "team_id": str(uuid.uuid4())}, headers=api.manager)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "team_id"

    # Converted with a deal: the deal is the lead's team's.
    body = {"customer_id": str(uuid.uuid4()), "deal": {"title": "First order", "amount": "100.00", "currency": "EUR"}}
    r = await api.client.post(f"/v1/leads/{south['id']}/convert", json=body, headers=api.rep1)
    assert r.status_code == 200, r.text
    deal_id = r.json()["deal_id"] if "deal_id" in r.json() else r.json()["lead"]["deal_id"]
    [event] = [e for e in await api.events("deal.created") if e["data"]["deal_id"] == deal_id]
    assert event["data"]["team_id"] == str(SOUTH)
    # The lists filter on the team.
    leads = (await api.client.get(f"/v1/leads?team_id={SOUTH}", headers=api.manager)).json()["items"]
    assert [x["id"] for x in leads] == [south["id"]]
    deals = (await api.client.get(f"/v1/deals?team_id={SOUTH}", headers=api.manager)).json()["items"]
    assert [x["id"] for x in deals] == [deal_id]
    assert (await api.client.get(f"/v1/deals?team_id={NORTH}", headers=api.manager)).json()["items"] == []


async def test_the_teams_lead_sees_and_changes_the_records_routed_to_the_team(api: Api) -> None:
    """The owner rules' team level by team_id: the lead of NORTH (the gateway's signed scope) sees
    and changes a lead routed to NORTH though their owner is in no team the lead leads;
    another rep does not."""
    await api.consume(team(NORTH, "north", "DE"))
    r = await api.client.post(
        "/v1/leads",
        json={"name": "Routed", "source": "web_form", "country": "DE"},
        headers=api.as_("rep9", "sales_rep"),
    )
    assert r.status_code == 201 and r.json()["team_id"] == str(NORTH)
    lead = r.json()
    codec = api.app.state.token_codec
    north_lead = {
        **api.as_("north-lead", "sales_rep"),
        TEAM_SCOPE_HEADER: codec.issue_team_scope("north-lead", [str(NORTH)], ["north-lead"]),
    }
    assert (await api.client.get(f"/v1/leads/{lead['id']}", headers=north_lead)).status_code == 200
    listed = (await api.client.get("/v1/leads", headers=north_lead)).json()["items"]
    assert [x["id"] for x in listed] == [lead["id"]]
    r = await api.client.patch(f"/v1/leads/{lead['id']}", json={"title": "CEO"}, headers=north_lead)
    assert r.status_code == 200, r.text
    # A rep outside the team: not found, not listed.
    assert (await api.client.get(f"/v1/leads/{lead['id']}", headers=api.rep2)).status_code == 404
    assert (await api.client.get("/v1/leads", headers=api.rep2)).json()["items"] == []
