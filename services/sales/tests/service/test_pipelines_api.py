"""/v1/pipelines (issue 24, part 1): pipelines with their own ordered stages, deals moving through
them, the 409 on removing a stage that holds deals, and the reports per pipeline."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tessera_sales.pipelines.rules import DEFAULT_PIPELINE_ID
from tessera_sales.testing import PROBLEM, Api

STAGES = [
    {"key": "discovery", "name": "Discovery", "probability": 15},
    {"key": "demo", "name": "Demo", "probability": 40},
    {"key": "contract", "name": "Contract sent", "probability": 90},
    {"key": "signed", "name": "Signed", "kind": "won", "probability": 100},
    {"key": "dropped", "name": "Dropped", "kind": "lost", "probability": 0},
]


async def pipeline(api: Api, key: str = "enterprise", stages: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    r = await api.client.post(
        "/v1/pipelines", json={"key": key, "name": key.title(), "stages": stages or STAGES}, headers=api.manager
    )
    assert r.status_code == 201, r.text
    return r.json()


@pytest.mark.sqlite
async def test_the_default_pipeline_holds_todays_stages(api: Api) -> None:
    r = await api.client.get("/v1/pipelines", headers=api.rep1)
    assert r.status_code == 200, r.text
    [default] = r.json()["items"]
    assert (default["id"], default["key"], default["is_default"]) == (str(DEFAULT_PIPELINE_ID), "default", True)
    assert [(s["key"], s["probability"], s["kind"]) for s in default["stages"]] == [
        ("prospecting", 10, "open"),
        ("qualification", 20, "open"),
        ("proposal", 50, "open"),
        ("negotiation", 80, "open"),
        ("won", 100, "won"),
        ("lost", 0, "lost"),
    ]
    deal = await api.deal()
    assert (deal["pipeline_id"], deal["pipeline_name"], deal["stage_name"]) == (
        str(DEFAULT_PIPELINE_ID),
        "Sales",
        "Prospecting",
    )


@pytest.mark.sqlite
async def test_a_deal_moves_through_its_pipelines_own_stages_and_is_won(api: Api) -> None:
    p = await pipeline(api)
    assert r_ok(p)
    [created] = await api.events("pipeline.created")
    assert created["key"] == p["id"] and [s["key"] for s in created["data"]["stages"]] == [s["key"] for s in STAGES]

    deal = await api.deal(pipeline_id=p["id"])
    assert (deal["stage"], deal["probability"], deal["stage_name"], deal["pipeline_name"]) == (
        "discovery",
        15,
        "Discovery",
        "Enterprise",
    )
    for stage, probability in (("demo", 40), ("contract", 90)):
        r = await api.client.patch(f"/v1/deals/{deal['id']}", json={"stage": stage}, headers=api.rep1)
        assert r.status_code == 200, r.text
        assert (r.json()["stage"], r.json()["probability"]) == (stage, probability)
    # A stage of another pipeline is not one of this deal's.
    r = await api.client.patch(f"/v1/deals/{deal['id']}", json={"stage": "proposal"}, headers=api.rep1)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "stage"
    # The won stage is entered by /win, as in the default pipeline.
    r = await api.client.patch(f"/v1/deals/{deal['id']}", json={"stage": "signed"}, headers=api.rep1)
    assert r.status_code == 409 and "/win" in r.json()["detail"]
    r = await api.client.post(f"/v1/deals/{deal['id']}/win", headers=api.rep1)
    assert r.status_code == 200, r.text
    assert (r.json()["stage"], r.json()["stage_name"], r.json()["probability"]) == ("signed", "Signed", 100)

    history = (await api.client.get(f"/v1/deals/{deal['id']}/history", headers=api.rep1)).json()["items"]
    assert [h["to_stage"] for h in history] == ["discovery", "demo", "contract", "signed"]
    assert {h["pipeline_id"] for h in history} == {p["id"]}
    moves = await api.events("deal.stage_changed")
    assert [(e["data"]["from_stage_key"], e["data"]["to_stage_key"]) for e in moves] == [
        ("discovery", "demo"),
        ("demo", "contract"),
        ("contract", "signed"),
    ]
    # ``to_stage`` keeps the six standard values for the consumers that know only those.
    assert [e["data"]["to_stage"] for e in moves] == ["qualification", "proposal", "won"]
    assert {e["data"]["pipeline_name"] for e in moves} == {"Enterprise"}
    [won] = await api.events("deal.won")
    assert (won["data"]["pipeline_id"], won["data"]["stage_name"]) == (p["id"], "Signed")
    [made] = await api.events("deal.created")
    assert (made["data"]["stage"], made["data"]["stage_key"]) == ("prospecting", "discovery")


def r_ok(p: dict[str, Any]) -> bool:
    return p["is_default"] is False and p["version"] == 1 and [s["position"] for s in p["stages"]] == [1, 2, 3, 4, 5]


@pytest.mark.sqlite
async def test_removing_a_stage_that_holds_deals_is_refused_naming_how_many(api: Api) -> None:
    p = await pipeline(api)
    for _ in range(2):
        await api.deal(pipeline_id=p["id"], stage="demo")
    r = await api.client.delete(f"/v1/pipelines/{p['id']}/stages/demo", headers=api.manager)
    assert r.status_code == 409 and r.headers["content-type"] == PROBLEM
    assert "2 deals" in r.json()["detail"] and r.json()["deals"] == 2
    # The same refusal when PATCH leaves the stage out.
    without_demo = [s for s in STAGES if s["key"] != "demo"]
    r = await api.client.patch(f"/v1/pipelines/{p['id']}", json={"stages": without_demo}, headers=api.manager)
    assert r.status_code == 409 and r.json()["deals"] == 2
    # Archiving is allowed: no new deal enters it, the two stay.
    archived = [{**s, "archived": s["key"] == "demo"} for s in STAGES]
    r = await api.client.patch(f"/v1/pipelines/{p['id']}", json={"stages": archived}, headers=api.manager)
    assert r.status_code == 200, r.text
    demo = next(s for s in r.json()["stages"] if s["key"] == "demo")
    assert (demo["archived"], demo["deals"]) == (True, 2)
    r = await api.client.post(
        "/v1/deals",
        json={"customer_id": str(uuid.uuid4()), "title": "x", "amount": "1", "currency": "EUR", "pipeline_id": p["id"]}
        | {"stage": "demo"},
        headers=api.rep1,
    )
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "stage"
    # A won deal holds the won stage: the refusal names the deals first (the stage is also the
    # pipeline's only won one, which an empty won stage would be refused for).
    won = await api.deal(pipeline_id=p["id"], stage="discovery")
    assert (await api.client.post(f"/v1/deals/{won['id']}/win", json={}, headers=api.rep1)).status_code == 200
    r = await api.client.delete(f"/v1/pipelines/{p['id']}/stages/signed", headers=api.manager)
    assert r.status_code == 409 and r.json()["type"].endswith("stage-in-use") and r.json()["deals"] == 1, r.text
    # An empty stage goes; the event names it.
    r = await api.client.delete(f"/v1/pipelines/{p['id']}/stages/contract", headers=api.manager)
    assert r.status_code == 200, r.text
    assert [s["key"] for s in r.json()["stages"]] == ["discovery", "demo", "signed", "dropped"]
    updated = await api.events("pipeline.updated")
    assert updated[-1]["data"]["removed_stages"] == ["contract"] and updated[-1]["data"]["version"] == 3


@pytest.mark.sqlite
async def test_patch_renames_reorders_adds_and_reweights(api: Api) -> None:
    p = await pipeline(api)
    stages = [STAGES[1], {"key": "discovery", "probability": 5}, {"name": "Legal review"}, *STAGES[2:]]
    r = await api.client.patch(
        f"/v1/pipelines/{p['id']}",
        json={"name": "Enterprise deals", "stages": stages},
        headers={**api.manager, "If-Match": f'"{p["id"]}.1"'},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["name"] == "Enterprise deals" and body["version"] == 2
    assert [(s["key"], s["probability"]) for s in body["stages"]][:4] == [
        ("demo", 40),
        ("discovery", 5),
        ("legal-review", 60),
        ("contract", 90),
    ]
    r = await api.client.get(f"/v1/pipelines/{p['id']}", headers=api.rep1)
    assert r.status_code == 200 and r.headers["etag"] == f'"{p["id"]}.2"'


@pytest.mark.sqlite
async def test_a_definition_is_checked_naming_the_stage(api: Api) -> None:
    cases = [
        ([{"key": "a", "name": "A"}, {"key": "a", "name": "Again"}], "stages.1.key"),
        ([{"key": "a", "name": "A"}, {"key": "w2", "name": "W2", "kind": "won"}, *STAGES[3:]], "stages.2.kind"),
        ([{"key": "has space", "name": "A"}], "stages.0.key"),
        ([{"key": "x", "name": "X", "kind": "won", "probability": 90}], "stages.0.probability"),
        ([{"name": "Dropped", "kind": "lost"}], "stages"),
    ]
    for stages, field in cases:
        r = await api.client.post("/v1/pipelines", json={"name": "Bad", "stages": stages}, headers=api.manager)
        assert r.status_code == 422, (stages, r.text)
        assert field in {e["field"] for e in r.json()["errors"]}, (field, r.json())
    # Without won and lost stages the pipeline gets the standard ones.
    r = await api.client.post(
        "/v1/pipelines", json={"name": "Renewals", "stages": [{"name": "Due"}, {"name": "Quoted"}]}, headers=api.manager
    )
    assert r.status_code == 201, r.text
    assert [(s["key"], s["kind"], s["probability"]) for s in r.json()["stages"]] == [
        ("due", "open", 33),
        ("quoted", "open", 67),
        ("won", "won", 100),
        ("lost", "lost", 0),
    ]
    assert r.json()["key"] == "renewals"
    r = await api.client.post("/v1/pipelines", json={"name": "Renewals", "stages": STAGES}, headers=api.manager)
    assert r.status_code == 409


@pytest.mark.sqlite
async def test_only_managers_and_admins_change_pipelines(api: Api) -> None:
    body = {"name": "Mine", "stages": STAGES}
    assert (await api.client.post("/v1/pipelines", json=body, headers=api.rep1)).status_code == 403
    assert (await api.client.post("/v1/pipelines", json=body, headers=api.as_("a", "admin"))).status_code == 201
    p = (await api.client.get("/v1/pipelines", headers=api.as_("f", "finance_manager"))).json()["items"][1]
    r = await api.client.patch(f"/v1/pipelines/{p['id']}", json={"name": "x"}, headers=api.rep1)
    assert r.status_code == 403
    r = await api.client.delete(f"/v1/pipelines/{p['id']}/stages/demo", headers=api.rep1)
    assert r.status_code == 403


@pytest.mark.sqlite
async def test_an_open_deal_moves_to_another_pipeline(api: Api) -> None:
    p = await pipeline(api)
    deal = await api.deal(stage="proposal")
    r = await api.client.patch(
        f"/v1/deals/{deal['id']}", json={"pipeline_id": p["id"], "stage": "contract"}, headers=api.rep1
    )
    assert r.status_code == 200, r.text
    assert (r.json()["pipeline_id"], r.json()["stage"], r.json()["probability"]) == (p["id"], "contract", 90)
    [moved] = await api.events("deal.stage_changed")
    assert (moved["data"]["from_pipeline_id"], moved["data"]["pipeline_id"]) == (str(DEFAULT_PIPELINE_ID), p["id"])
    assert (moved["data"]["from_stage_key"], moved["data"]["to_stage_key"]) == ("proposal", "contract")
    listed = await api.client.get(f"/v1/deals?pipeline_id={p['id']}&stage=contract", headers=api.manager)
    assert [d["id"] for d in listed.json()["items"]] == [deal["id"]]
    # A closed deal stays where it closed.
    await api.client.post(f"/v1/deals/{deal['id']}/lose", json={"reason": "budget"}, headers=api.rep1)
    r = await api.client.patch(
        f"/v1/deals/{deal['id']}", json={"pipeline_id": str(DEFAULT_PIPELINE_ID)}, headers=api.rep1
    )
    assert r.status_code == 409
    got = (await api.client.get(f"/v1/deals/{deal['id']}", headers=api.rep1)).json()
    assert (got["stage"], got["stage_name"]) == ("dropped", "Dropped")


@pytest.mark.sqlite
async def test_reports_are_per_pipeline(api: Api) -> None:
    p = await pipeline(api)
    await api.deal(pipeline_id=p["id"], stage="demo", amount="1000.00", expected_close_date="2027-01-10")
    await api.deal(pipeline_id=p["id"], stage="contract", amount="500.00", expected_close_date="2027-01-20")
    await api.deal(amount="700.00", expected_close_date="2027-01-15")  # the default pipeline
    lost = await api.deal(pipeline_id=p["id"], amount="300.00")
    await api.client.post(f"/v1/deals/{lost['id']}/lose", json={"reason": "price"}, headers=api.rep1)

    r = await api.client.get(f"/v1/reports/forecast?pipeline_id={p['id']}", headers=api.manager)
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["pipeline_id"], body["pipeline_name"]) == (p["id"], "Enterprise")
    assert [(t["close_month"], t["deals"], t["pipeline"], t["weighted"]) for t in body["totals"]] == [
        ("2027-01", 2, "1500.00", "850.00")  # 1000 x 40% + 500 x 90%
    ]
    default = (await api.client.get("/v1/reports/forecast", headers=api.manager)).json()
    assert default["pipeline_name"] == "Sales"
    assert [(t["deals"], t["pipeline"]) for t in default["totals"]] == [(1, "700.00")]

    funnel = (await api.client.get(f"/v1/reports/funnel?pipeline_id={p['id']}", headers=api.manager)).json()
    assert [(s["stage"], s["reached"]) for s in funnel["steps"]] == [
        ("discovery", 3),
        ("demo", 2),
        ("contract", 1),
        ("signed", 0),
    ]
    assert funnel["lost"] == 1 and funnel["steps"][2]["stage_name"] == "Contract sent"

    perf = (await api.client.get(f"/v1/reports/sales-performance?pipeline_id={p['id']}", headers=api.manager)).json()
    assert (perf["won"], perf["lost"], perf["win_rate"]) == (0, 1, "0.0")
    assert {s["stage"] for s in perf["stage_times"]} == {"discovery"}
    r = await api.client.get(f"/v1/reports/forecast?pipeline_id={uuid.uuid4()}", headers=api.manager)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "pipeline_id"


@pytest.mark.sqlite
async def test_a_lead_converts_into_a_deal_of_the_chosen_pipeline(api: Api) -> None:
    p = await pipeline(api)
    lead_body = {"name": "Grace Hopper", "company": "Navy Labs", "email": "grace@example.com", "source": "referral"}
    customer_id = str(uuid.uuid4())
    await api.credit_known(uuid.UUID(customer_id))
    converted = []
    for deal in ({"pipeline_id": p["id"]}, {"pipeline_id": p["id"], "stage": "demo"}, {}):
        lead = (await api.client.post("/v1/leads", json=lead_body, headers=api.rep1)).json()
        body = {"customer_id": customer_id, "deal": {"title": "First order", "currency": "EUR", "amount": "10", **deal}}
        r = await api.client.post(f"/v1/leads/{lead['id']}/convert", json=body, headers=api.rep1)
        assert r.status_code == 200, r.text
        got = (await api.client.get(f"/v1/deals/{r.json()['deal_id']}", headers=api.rep1)).json()
        converted.append((got["pipeline_name"], got["stage"]))
    # Without a pipeline, a converted lead's deal starts qualified in the default pipeline, as before.
    assert converted == [("Enterprise", "discovery"), ("Enterprise", "demo"), ("Sales", "qualification")]


@pytest.mark.sqlite
async def test_an_archived_pipeline_takes_no_new_deals(api: Api) -> None:
    p = await pipeline(api)
    kept = await api.deal(pipeline_id=p["id"])
    r = await api.client.patch(f"/v1/pipelines/{p['id']}", json={"archived": True}, headers=api.manager)
    assert r.status_code == 200 and r.json()["archived"] is True
    [updated] = await api.events("pipeline.updated")
    assert updated["data"]["archived"] is True
    r = await api.client.post(
        "/v1/deals",
        json={
            "customer_id": kept["customer_id"],
            "title": "x",
            "amount": "1",
            "currency": "EUR",
            "pipeline_id": p["id"],
        },
        headers=api.rep1,
    )
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "pipeline_id"
    # Its deals stay and still move; the list leaves it out unless asked.
    r = await api.client.patch(f"/v1/deals/{kept['id']}", json={"stage": "demo"}, headers=api.rep1)
    assert r.status_code == 200, r.text
    listed = (await api.client.get("/v1/pipelines", headers=api.rep1)).json()["items"]
    assert [x["key"] for x in listed] == ["default"]
    listed = (await api.client.get("/v1/pipelines?include_archived=true", headers=api.rep1)).json()["items"]
    assert [x["key"] for x in listed] == ["default", "enterprise"]
    r = await api.client.patch(f"/v1/pipelines/{DEFAULT_PIPELINE_ID}", json={"archived": True}, headers=api.manager)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "archived"


@pytest.mark.sqlite
async def test_the_funnel_follows_a_changed_stage_order(api: Api) -> None:
    p = await pipeline(api)
    deal = await api.deal(pipeline_id=p["id"], stage="demo")
    await api.client.patch(f"/v1/deals/{deal['id']}", json={"stage": "contract"}, headers=api.rep1)
    # A stage goes in before demo: demo and contract move one place down the funnel.
    stages = [STAGES[0], {"key": "qualify", "name": "Qualify"}, *STAGES[1:]]
    r = await api.client.patch(f"/v1/pipelines/{p['id']}", json={"stages": stages}, headers=api.manager)
    assert r.status_code == 200, r.text
    funnel = (await api.client.get(f"/v1/reports/funnel?pipeline_id={p['id']}", headers=api.manager)).json()
    assert [(s["stage"], s["reached"]) for s in funnel["steps"]] == [
        ("discovery", 1),
        ("qualify", 1),
        ("demo", 1),
        ("contract", 1),
        ("signed", 0),
    ]
    # Contract before demo now: a deal that reached contract has passed discovery, qualify and contract.
    order = [STAGES[0], {"key": "qualify"}, STAGES[2], STAGES[1], *STAGES[3:]]
    r = await api.client.patch(f"/v1/pipelines/{p['id']}", json={"stages": order}, headers=api.manager)
    assert r.status_code == 200, r.text
    funnel = (await api.client.get(f"/v1/reports/funnel?pipeline_id={p['id']}", headers=api.manager)).json()
    assert [(s["stage"], s["reached"]) for s in funnel["steps"]][:4] == [
        ("discovery", 1),
        ("qualify", 1),
        ("contract", 1),
        ("demo", 1),
    ]
    history = (await api.client.get(f"/v1/deals/{deal['id']}/history", headers=api.rep1)).json()["items"]
    assert [h["to_stage"] for h in history] == ["demo", "contract"]
