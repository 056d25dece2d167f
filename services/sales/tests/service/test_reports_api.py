"""/v1/reports: forecast, funnel and sales performance over real deals and their history."""

from __future__ import annotations

import pytest

from tessera_sales.testing import Api


async def move(api: Api, deal: dict, *stages: str) -> None:
    for stage in stages:
        r = await api.client.patch(f"/v1/deals/{deal['id']}", json={"stage": stage}, headers=api.manager)
        assert r.status_code == 200, r.text


class TestForecast:
    @pytest.mark.sqlite
    async def test_weighted_pipeline_by_month_and_owner(self, api: Api) -> None:
        await api.deal(api.rep1, amount="1000.00", expected_close_date="2026-03-10")  # 10% -> 100.00
        await api.deal(
            api.rep1, amount="333.33", expected_close_date="2026-03-20", probability=33
        )  # 109.9989 -> 110.00
        await api.deal(api.rep2, amount="500.00", expected_close_date="2026-03-05", stage="proposal")  # 250.00
        await api.deal(api.rep2, amount="800.00", expected_close_date="2026-04-01", stage="negotiation")  # 640.00
        won = await api.deal(api.rep1, amount="9999.00", expected_close_date="2026-03-01")
        await api.client.post(f"/v1/deals/{won['id']}/win", headers=api.rep1)  # closed: not pipeline
        r = await api.client.get("/v1/reports/forecast", headers=api.manager)
        assert r.status_code == 200, r.text
        rows = [(x["close_month"], x["owner_id"], x["deals"], x["pipeline"], x["weighted"]) for x in r.json()["rows"]]
        assert rows == [
            ("2026-03", "rep1", 2, "1333.33", "210.00"),
            ("2026-03", "rep2", 1, "500.00", "250.00"),
            ("2026-04", "rep2", 1, "800.00", "640.00"),
        ]
        totals = [(x["close_month"], x["pipeline"], x["weighted"]) for x in r.json()["totals"]]
        assert totals == [("2026-03", "1833.33", "460.00"), ("2026-04", "800.00", "640.00")]
        mine = (await api.client.get("/v1/reports/forecast?owner_id=rep2", headers=api.rep1)).json()["rows"]
        assert {x["owner_id"] for x in mine} == {"rep1"}  # a rep's report is the rep's own
        april = (await api.client.get("/v1/reports/forecast?from_month=2026-04", headers=api.manager)).json()
        assert [x["close_month"] for x in april["rows"]] == ["2026-04"]

    async def test_auth_and_bad_input(self, api: Api) -> None:
        assert (await api.client.get("/v1/reports/forecast")).status_code == 401
        r = await api.client.get("/v1/reports/forecast", headers=api.as_("a", "support_agent"))
        assert r.status_code == 403
        r = await api.client.get("/v1/reports/forecast?from_month=2026-13&currency=eur", headers=api.manager)
        assert {e["field"] for e in r.json()["errors"]} == {"from_month", "currency"}


class TestFunnel:
    @pytest.mark.sqlite
    async def test_conversion_from_stage_history(self, api: Api) -> None:
        a, b, c = await api.deal(), await api.deal(), await api.deal()
        d = await api.deal(stage="proposal")  # created further down: counted as having passed earlier stages
        await move(api, a, "qualification", "proposal", "negotiation")
        await api.client.post(f"/v1/deals/{a['id']}/win", headers=api.manager)
        await move(api, b, "qualification")
        await api.client.post(f"/v1/deals/{b['id']}/lose", json={"reason": "price"}, headers=api.manager)
        await move(api, d, "negotiation", "proposal")  # moving back keeps the furthest stage reached
        r = await api.client.get("/v1/reports/funnel", headers=api.manager)
        body = r.json()
        assert (body["deals"], body["lost"]) == (4, 1)
        steps = [(s["stage"], s["reached"], s["conversion_to_next"]) for s in body["steps"]]
        assert steps == [
            ("prospecting", 4, "75.0"),
            ("qualification", 3, "66.7"),
            ("proposal", 2, "100.0"),
            ("negotiation", 2, "50.0"),
            ("won", 1, None),
        ]
        assert c["stage"] == "prospecting"
        r = await api.client.get("/v1/reports/funnel?from=2000-01-01&to=2000-12-31", headers=api.manager)
        assert r.json()["deals"] == 0
        r = await api.client.get("/v1/reports/funnel?since=2026-02-01&until=2026-01-01", headers=api.manager)
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "until"
        # The former names, still accepted (deprecated), are the same parameters.
        r = await api.client.get("/v1/reports/funnel?since=2000-01-01&until=2000-12-31", headers=api.manager)
        assert r.status_code == 200 and r.json()["deals"] == 0
        r = await api.client.get("/v1/reports/funnel?from=2026-02-01&until=2026-01-01", headers=api.manager)
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "until"


class TestSalesPerformance:
    @pytest.mark.sqlite
    async def test_win_rate_cycle_and_reps(self, api: Api) -> None:
        for headers, outcome in ((api.rep1, "win"), (api.rep1, "win"), (api.rep1, "lose"), (api.rep2, "lose")):
            deal = await api.deal(headers, amount="100.00")
            await move(api, deal, "proposal")
            body = {"reason": "price"} if outcome == "lose" else None
            r = await api.client.post(f"/v1/deals/{deal['id']}/{outcome}", json=body, headers=headers)
            assert r.status_code == 200, r.text
        await api.client.post(
            "/v1/activities", json={"kind": "call", "subject": "hi", "deal_id": deal["id"]}, headers=api.rep2
        )
        r = await api.client.get("/v1/reports/sales-performance", headers=api.manager)
        body = r.json()
        assert (body["won"], body["lost"], body["win_rate"]) == (2, 2, "50.0")
        reps = {x["owner_id"]: x for x in body["reps"]}
        assert (reps["rep1"]["won"], reps["rep1"]["win_rate"], reps["rep1"]["won_amounts"]) == (
            2,
            "66.7",
            [{"currency": "EUR", "amount": "200.00"}],
        )
        assert (reps["rep2"]["win_rate"], reps["rep2"]["activities"]) == ("0.0", 1)
        stages = {s["stage"]: s["transitions"] for s in body["stage_times"]}
        assert stages == {"prospecting": 4, "proposal": 4}
        assert body["average_cycle_seconds"] is not None
        mine = (await api.client.get("/v1/reports/sales-performance", headers=api.rep2)).json()
        assert [x["owner_id"] for x in mine["reps"]] == ["rep2"]
        assert (
            await api.client.get("/v1/reports/sales-performance", headers=api.as_("p", "partner"))
        ).status_code == 403
