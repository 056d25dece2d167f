"""/v1/deals: pipeline records with line items, stage history, win/lose/reopen and the credit hold."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest

from tessera_sales.deals.models import Deal
from tessera_sales.testing import PROBLEM, Api, deal_payload, overdue_event
from tessera_shared.events.contracts import InvoicePaid


class TestCreateDeal:
    async def test_creates_with_default_probability_history_and_event(self, api: Api) -> None:
        r = await api.client.post("/v1/deals", json=deal_payload(expected_close_date="2026-03-15"), headers=api.rep1)
        assert r.status_code == 201, r.text
        deal = r.json()
        assert (deal["stage"], deal["probability"], deal["owner_id"]) == ("prospecting", 10, "rep1")
        assert deal["amount"] == "1000.00"
        assert r.headers["location"] == f"/v1/deals/{deal['id']}"
        assert r.headers["etag"] == f'"{deal["id"]}.1"'
        [event] = await api.events("deal.created")
        assert event["key"] == deal["customer_id"] and event["subject"] == deal["customer_id"]
        assert event["data"]["amount"] == "1000.00" and event["data"]["expected_close_date"] == "2026-03-15"
        history = (await api.client.get(f"/v1/deals/{deal['id']}/history", headers=api.rep1)).json()["items"]
        assert [(h["from_stage"], h["to_stage"], h["changed_by"]) for h in history] == [(None, "prospecting", "rep1")]

    async def test_amount_is_the_sum_of_discounted_lines_with_catalog_defaults(self, api: Api) -> None:
        await api.product("WIDGET", price="19.99")
        deal = await api.deal(
            amount=None,
            line_items=[
                {"product_code": "WIDGET", "quantity": "3", "discount_percent": "10"},  # 59.97 * 0.9 = 53.973 -> 53.97
                {"description": "Setup", "quantity": "1", "unit_price": "100.005"},  # 100.005 -> 100.01 (half up)
            ],
        )
        assert deal["amount"] == "153.98"
        assert [x["line_total"] for x in deal["line_items"]] == ["53.97", "100.01"]
        assert deal["line_items"][0]["description"] == "Product WIDGET"

    async def test_amount_that_disagrees_with_lines_is_named(self, api: Api) -> None:
        r = await api.client.post(
            "/v1/deals",
            json=deal_payload(amount="5", line_items=[{"description": "x", "quantity": "1", "unit_price": "10"}]),
            headers=api.rep1,
        )
        assert r.status_code == 422
        assert r.json()["errors"][0]["field"] == "amount"
        assert await api.count(Deal) == 0

    async def test_bad_input_is_named_and_stores_nothing(self, api: Api) -> None:
        cases = [
            (deal_payload(amount=None), "amount"),
            (deal_payload(amount="10.005"), "amount"),
            (deal_payload(currency="euro"), "currency"),
            (deal_payload(stage="won"), "stage"),
            (deal_payload(probability=101), "probability"),
            (deal_payload(colour="red"), "colour"),
            (
                deal_payload(amount=None, line_items=[{"product_code": "NOPE", "quantity": "1"}]),
                "line_items.0.product_code",
            ),
            (
                deal_payload(
                    amount=None,
                    line_items=[{"description": "x", "quantity": "999999999999", "unit_price": "99999999999999"}],
                ),
                "line_items.0.quantity",
            ),
        ]
        for body, field in cases:
            r = await api.client.post("/v1/deals", json=body, headers=api.rep1)
            assert r.status_code == 422, (body, r.text)
            assert r.headers["content-type"] == PROBLEM
            assert field in {e["field"] for e in r.json()["errors"]}, (field, r.json())
        assert await api.count(Deal) == 0

    async def test_auth(self, api: Api) -> None:
        assert (await api.client.post("/v1/deals", json=deal_payload())).status_code == 401
        r = await api.client.post("/v1/deals", json=deal_payload(), headers=api.as_("agent", "support_agent"))
        assert r.status_code == 403
        r = await api.client.post("/v1/deals", json=deal_payload(owner_id="rep2"), headers=api.rep1)
        assert r.status_code == 403  # a rep may not hand a deal to someone else
        assert (await api.deal(api.manager, owner_id="rep2"))["owner_id"] == "rep2"

    async def test_idempotency_key_makes_one_deal(self, api: Api) -> None:
        headers, body = {**api.rep1, "Idempotency-Key": "d-1"}, deal_payload()
        first = await api.client.post("/v1/deals", json=body, headers=headers)
        second = await api.client.post("/v1/deals", json=body, headers=headers)
        assert second.json()["id"] == first.json()["id"]
        assert second.headers["idempotent-replayed"] == "true"
        assert await api.count(Deal) == 1

    async def test_large_deal_is_flagged_on_create_only_above_threshold(self, api: Api) -> None:
        await api.deal(amount="100000.00")  # at the threshold: not above it
        big = await api.deal(amount="150000.00")
        [event] = await api.events("deal.large_detected")
        assert event["data"]["deal_id"] == big["id"]
        assert event["data"]["threshold"] == "100000"
        await api.deal(amount="999999", currency="CHF")  # no threshold for CHF
        assert len(await api.events("deal.large_detected")) == 1


class TestReadDeals:
    async def test_rep_sees_own_deals_manager_sees_all(self, api: Api) -> None:
        mine = await api.deal(api.rep1)
        theirs = await api.deal(api.rep2)
        listed = (await api.client.get("/v1/deals", headers=api.rep1)).json()["items"]
        assert [d["id"] for d in listed] == [mine["id"]]
        r = await api.client.get(f"/v1/deals/{theirs['id']}", headers=api.rep1)
        assert r.status_code == 404  # not another rep's business, and no hint that it exists
        everyone = (await api.client.get("/v1/deals", headers=api.manager)).json()["items"]
        assert {d["id"] for d in everyone} == {mine["id"], theirs["id"]}
        r = await api.client.get("/v1/deals?owner_id=rep2", headers=api.rep1)
        assert r.json()["items"] == []

    async def test_cursor_pages_and_filters(self, api: Api) -> None:
        ids = [(await api.deal())["id"] for _ in range(5)]
        seen, cursor = [], None
        while True:
            url = "/v1/deals?limit=2&stage=prospecting" + (f"&cursor={cursor}" if cursor else "")
            page = (await api.client.get(url, headers=api.manager)).json()
            seen += [d["id"] for d in page["items"]]
            cursor = page["next_cursor"]
            if not cursor:
                break
        assert seen == sorted(ids)
        r = await api.client.get("/v1/deals?stage=won", headers=api.manager)
        assert r.json()["items"] == []

    async def test_get_errors(self, api: Api) -> None:
        assert (await api.client.get(f"/v1/deals/{uuid.uuid4()}")).status_code == 401
        assert (await api.client.get(f"/v1/deals/{uuid.uuid4()}", headers=api.as_("p", "partner"))).status_code == 403
        assert (await api.client.get(f"/v1/deals/{uuid.uuid4()}", headers=api.manager)).status_code == 404
        r = await api.client.get("/v1/deals/nope", headers=api.manager)
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "deal_id"
        r = await api.client.get("/v1/deals?limit=500&stage=sold", headers=api.manager)
        assert {e["field"] for e in r.json()["errors"]} == {"limit"}
        # Stage keys are the pipelines' (data): a key no pipeline has is refused once the query parses.
        r = await api.client.get("/v1/deals?stage=sold", headers=api.manager)
        assert r.status_code == 422 and {e["field"] for e in r.json()["errors"]} == {"stage"}


class TestPatchDeal:
    @pytest.mark.sqlite
    async def test_stage_move_records_history_event_and_default_probability(self, api: Api) -> None:
        deal = await api.deal(probability=15)
        assert deal["probability"] == 15 and deal["probability_overridden"]
        r = await api.client.patch(
            f"/v1/deals/{deal['id']}", json={"stage": "proposal"}, headers={**api.rep1, "If-Match": f'"{deal["id"]}.1"'}
        )
        assert r.status_code == 200, r.text
        assert (r.json()["stage"], r.json()["probability"], r.json()["version"]) == ("proposal", 50, 2)
        assert r.headers["etag"] == f'"{deal["id"]}.2"'
        [event] = await api.events("deal.stage_changed")
        assert (event["data"]["from_stage"], event["data"]["to_stage"], event["data"]["changed_by"]) == (
            "prospecting",
            "proposal",
            "rep1",
        )
        history = (await api.client.get(f"/v1/deals/{deal['id']}/history", headers=api.rep1)).json()["items"]
        assert [h["to_stage"] for h in history] == ["prospecting", "proposal"]
        assert history[0]["left_at"] is not None and history[0]["duration_seconds"] >= 0
        r = await api.client.patch(
            f"/v1/deals/{deal['id']}", json={"stage": "negotiation", "probability": 65}, headers=api.rep1
        )
        assert (r.json()["probability"], r.json()["probability_overridden"]) == (65, True)

    async def test_stale_if_match_is_412_and_changes_nothing(self, api: Api) -> None:
        deal = await api.deal()
        r = await api.client.patch(
            f"/v1/deals/{deal['id']}", json={"title": "New"}, headers={**api.rep1, "If-Match": f'"{deal["id"]}.7"'}
        )
        assert r.status_code == 412
        got = await api.client.get(f"/v1/deals/{deal['id']}", headers=api.rep1)
        assert got.json()["title"] == deal["title"] and got.json()["version"] == 1

    async def test_closing_through_patch_is_409_listing_allowed_moves(self, api: Api) -> None:
        deal = await api.deal()
        r = await api.client.patch(f"/v1/deals/{deal['id']}", json={"stage": "won"}, headers=api.rep1)
        assert r.status_code == 409
        assert r.json()["type"] == "urn:tessera:problem:invalid-transition"
        assert (r.json()["current"], r.json()["requested"]) == ("prospecting", "won")
        assert r.json()["allowed"] == ["qualification", "proposal", "negotiation"]
        assert "/win" in r.json()["detail"]

    async def test_row_rules_and_auth(self, api: Api) -> None:
        deal = await api.deal()
        assert (await api.client.patch(f"/v1/deals/{deal['id']}", json={"title": "x"})).status_code == 401
        r = await api.client.patch(f"/v1/deals/{deal['id']}", json={"title": "x"}, headers=api.rep2)
        assert r.status_code == 404
        r = await api.client.patch(f"/v1/deals/{deal['id']}", json={"owner_id": "rep2"}, headers=api.rep1)
        assert r.status_code == 403
        r = await api.client.patch(f"/v1/deals/{deal['id']}", json={"owner_id": "rep2"}, headers=api.manager)
        assert r.json()["owner_id"] == "rep2"
        r = await api.client.patch(f"/v1/deals/{deal['id']}", json={"title": None}, headers=api.manager)
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "title"
        r = await api.client.patch(f"/v1/deals/{deal['id']}", json={"amount": "1.001"}, headers=api.manager)
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "amount"

    async def test_growing_past_threshold_alerts_once(self, api: Api) -> None:
        deal = await api.deal(amount="90000.00")
        for amount in ("120000.00", "130000.00"):
            r = await api.client.patch(f"/v1/deals/{deal['id']}", json={"amount": amount}, headers=api.rep1)
            assert r.status_code == 200, r.text
        alerts = await api.events("deal.large_detected")
        assert [a["data"]["amount"] for a in alerts] == ["120000.00"]


class TestWinLoseReopen:
    async def test_win_publishes_won_with_lines_and_closes(self, api: Api) -> None:
        await api.product("SKU-1", price="250.00")
        deal = await api.deal(
            amount=None, payment_terms_days=14, line_items=[{"product_code": "SKU-1", "quantity": "2"}]
        )
        r = await api.client.post(f"/v1/deals/{deal['id']}/win", headers=api.rep1)
        assert r.status_code == 200, r.text
        assert (r.json()["stage"], r.json()["probability"]) == ("won", 100)
        [won] = await api.events("deal.won")
        assert won["data"]["amount"] == "500.00" and won["data"]["payment_terms_days"] == 14
        assert won["data"]["line_items"][0]["product_code"] == "SKU-1"
        assert won["data"]["credit_override_by"] is None
        again = await api.client.post(f"/v1/deals/{deal['id']}/win", headers=api.rep1)
        assert again.status_code == 409
        assert again.json()["type"] == "urn:tessera:problem:invalid-transition"
        assert {k: again.json()[k] for k in ("current", "requested", "allowed")} == {
            "current": "won",
            "requested": "won",
            "allowed": [],
        }
        lose = await api.client.post(f"/v1/deals/{deal['id']}/lose", json={"reason": "late"}, headers=api.rep1)
        assert (lose.status_code, lose.json()["current"], lose.json()["requested"]) == (409, "won", "lost")
        r = await api.client.patch(f"/v1/deals/{deal['id']}", json={"title": "later"}, headers=api.manager)
        assert r.status_code == 409  # closed deals are immutable
        assert r.json()["type"] == "urn:tessera:problem:invalid-transition"
        assert (r.json()["current"], r.json()["requested"], r.json()["allowed"]) == ("won", "won", [])
        r = await api.client.patch(f"/v1/deals/{deal['id']}", json={"stage": "proposal"}, headers=api.manager)
        assert (r.status_code, r.json()["requested"], r.json()["allowed"]) == (409, "proposal", [])

    async def test_lose_requires_reason(self, api: Api) -> None:
        deal = await api.deal()
        r = await api.client.post(f"/v1/deals/{deal['id']}/lose", json={}, headers=api.rep1)
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "reason"
        r = await api.client.post(f"/v1/deals/{deal['id']}/lose", json={"reason": "price"}, headers=api.rep1)
        assert r.status_code == 200 and r.json()["lost_reason"] == "price"
        [lost] = await api.events("deal.lost")
        assert lost["data"]["reason"] == "price"

    @pytest.mark.sqlite
    async def test_reopen_is_for_managers_and_audited(self, api: Api) -> None:
        deal = await api.deal()
        await api.client.post(f"/v1/deals/{deal['id']}/lose", json={"reason": "budget"}, headers=api.rep1)
        body = {"reason": "customer came back", "stage": "proposal"}
        assert (await api.client.post(f"/v1/deals/{deal['id']}/reopen", json=body, headers=api.rep1)).status_code == 403
        r = await api.client.post(f"/v1/deals/{deal['id']}/reopen", json=body, headers=api.manager)
        assert r.status_code == 200, r.text
        assert (r.json()["stage"], r.json()["probability"], r.json()["lost_reason"]) == ("proposal", 50, None)
        history = (await api.client.get(f"/v1/deals/{deal['id']}/history", headers=api.manager)).json()["items"]
        assert history[-1]["reason"] == "reopened: customer came back"
        assert history[-1]["changed_by"] == "manager"
        again = await api.client.post(f"/v1/deals/{deal['id']}/reopen", json=body, headers=api.manager)
        assert again.status_code == 409
        assert again.json()["type"] == "urn:tessera:problem:invalid-transition"
        # An open deal moves by PATCH: the refusal lists those moves.
        assert {k: again.json()[k] for k in ("current", "requested", "allowed")} == {
            "current": "proposal",
            "requested": "proposal",
            "allowed": ["prospecting", "qualification", "negotiation"],
        }

    async def test_credit_hold_needs_a_finance_override(self, api: Api) -> None:
        deal = await api.deal()
        customer = uuid.UUID(deal["customer_id"])
        overdue = overdue_event(customer)
        await api.consume(overdue)
        r = await api.client.post(f"/v1/deals/{deal['id']}/win", headers=api.rep1)
        assert r.status_code == 409
        assert r.json()["type"] == "urn:tessera:problem:credit-hold"
        assert r.json()["overdue_invoices"][0]["invoice_id"] == str(overdue.invoice_id)
        r = await api.client.post(f"/v1/deals/{deal['id']}/win", json={"credit_override": True}, headers=api.rep1)
        assert r.status_code == 403
        assert r.json()["required_roles"] == ["admin", "finance_manager"]
        assert await api.events("deal.won") == []
        r = await api.client.post(
            f"/v1/deals/{deal['id']}/win", json={"credit_override": True}, headers=api.as_("fin", "finance_manager")
        )
        assert r.status_code == 200, r.text
        [won] = await api.events("deal.won")
        assert won["data"]["credit_override_by"] == "fin"

    async def test_paid_invoice_lifts_the_hold(self, api: Api) -> None:
        deal = await api.deal()
        customer = uuid.UUID(deal["customer_id"])
        overdue = overdue_event(customer)
        await api.consume(overdue)
        await api.consume(
            InvoicePaid(
                invoice_id=overdue.invoice_id,
                number="INV-1",
                customer_id=customer,
                total=Decimal("500.00"),
                currency="EUR",
                paid_at=overdue.detected_at,
            )
        )
        r = await api.client.post(f"/v1/deals/{deal['id']}/win", headers=api.rep1)
        assert r.status_code == 200, r.text

    async def test_win_auth(self, api: Api) -> None:
        deal = await api.deal()
        assert (await api.client.post(f"/v1/deals/{deal['id']}/win")).status_code == 401
        r = await api.client.post(f"/v1/deals/{deal['id']}/win", headers=api.as_("clerk", "billing_clerk"))
        assert r.status_code == 403
        assert (await api.client.post(f"/v1/deals/{deal['id']}/win", headers=api.rep2)).status_code == 404
        r = await api.client.post(f"/v1/deals/{deal['id']}/win", json={"credit_override": "maybe"}, headers=api.rep1)
        assert r.status_code == 422
