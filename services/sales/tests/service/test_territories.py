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


async def test_the_teams_lead_tags_upserts_reads_and_logs_on_the_teams_records_in_bulk(api: Api) -> None:
    """The bulk writes take the single PATCH's owner rule (team_id included): the lead of NORTH
    tags, upserts and batch-reads a lead and a deal routed to NORTH whose owner is outside the
    team, and logs activities on them; a rep outside the team finds neither."""
    await api.consume(team(NORTH, "north", "DE"))
    rep9 = api.as_("rep9", "sales_rep")
    r = await api.client.post("/v1/leads", json={"name": "Routed", "source": "web_form", "country": "DE"}, headers=rep9)
    assert r.status_code == 201 and r.json()["team_id"] == str(NORTH)
    lead = r.json()
    r = await api.client.post("/v1/leads", json={"name": "Won", "source": "web_form", "country": "DE"}, headers=rep9)
    body = {"customer_id": str(uuid.uuid4()), "deal": {"title": "Order", "amount": "100.00", "currency": "EUR"}}
    r = await api.client.post(f"/v1/leads/{r.json()['id']}/convert", json=body, headers=rep9)
    assert r.status_code == 200, r.text
    deal_id = r.json()["deal_id"] if "deal_id" in r.json() else r.json()["lead"]["deal_id"]
    codec = api.app.state.token_codec
    north_lead = {
        **api.as_("north-lead", "sales_rep"),
        TEAM_SCOPE_HEADER: codec.issue_team_scope("north-lead", [str(NORTH)], ["north-lead"]),
    }
    for who, status, code in ((api.rep2, "error", 404), (north_lead, "updated", None)):
        for path, record_id in (("/v1/leads/tags", lead["id"]), ("/v1/deals/tags", deal_id)):
            r = await api.client.post(path, json={"ids": [record_id], "add": ["north"]}, headers=who)
            [result] = r.json()["results"]
            assert result["status"] == status, (path, r.text)
            assert (result["problem"] or {}).get("status") == code
        r = await api.client.post(
            "/v1/leads/batch/upsert",
            json={"id_property": "id", "inputs": [{"id": lead["id"], "company": "Acme North"}]},
            headers=who,
        )
        [result] = r.json()["results"]
        assert result["status"] == status, r.text
        r = await api.client.post(
            "/v1/deals/batch/upsert",
            json={"id_property": "id", "inputs": [{"id": deal_id, "title": "Order North"}]},
            headers=who,
        )
        [result] = r.json()["results"]
        assert result["status"] == status, r.text
        r = await api.client.post("/v1/deals/batch/read", json={"ids": [deal_id]}, headers=who)
        assert [d["id"] for d in r.json()["items"]] == ([] if code else [deal_id])
        r = await api.client.post("/v1/leads/batch/read", json={"ids": [lead["id"]]}, headers=who)
        assert [x["id"] for x in r.json()["items"]] == ([] if code else [lead["id"]])
        for ref in ({"deal_id": deal_id}, {"lead_id": lead["id"]}):
            r = await api.client.post("/v1/activities", json={"kind": "call", "subject": "Hi", **ref}, headers=who)
            assert r.status_code == (422 if code else 201), (ref, r.text)
    got = (await api.client.get(f"/v1/deals/{deal_id}", headers=api.manager)).json()
    assert (got["title"], got["tags"], got["owner_id"]) == ("Order North", ["north"], "rep9")
    got = (await api.client.get(f"/v1/leads/{lead['id']}", headers=api.manager)).json()
    assert (got["company"], got["tags"]) == ("Acme North", ["north"])


async def test_leads_made_by_batch_upsert_and_import_are_routed_as_a_single_create(api: Api) -> None:
    await api.consume(team(NORTH, "north", "DE"))
    await api.consume(team(SOUTH, "south", "DE", "Bavaria"))
    inputs = [
        {"external_id": "b-1", "name": "A", "source": "web_form", "country": "DE"},
        {"external_id": "b-2", "name": "B", "source": "web_form", "country": "DE", "region": "Bavaria"},
        {"external_id": "b-3", "name": "C", "source": "web_form", "country": "FR"},
    ]
    r = await api.client.post(
        "/v1/leads/batch/upsert", json={"id_property": "external_id", "inputs": inputs}, headers=api.rep1
    )
    assert [x["status"] for x in r.json()["results"]] == ["created"] * 3, r.text
    csv = b"external_id,name,source,country,region\ni-1,D,web_form,DE,\ni-2,E,web_form,DE,Bavaria\n"
    r = await api.client.post("/v1/leads/import/csv", content=csv, headers={**api.rep1, "content-type": "text/csv"})
    assert r.status_code == 200 and r.json()["created"] == 2, r.text
    leads = (await api.client.get("/v1/leads", headers=api.manager)).json()["items"]
    expected = {"A": str(NORTH), "B": str(SOUTH), "C": None, "D": str(NORTH), "E": str(SOUTH)}
    assert {x["name"]: x["team_id"] for x in leads} == expected
    announced = {e["data"]["lead_id"]: e["data"].get("team_id") for e in await api.events("lead.created")}
    assert {x["name"]: announced[x["id"]] for x in leads} == expected
