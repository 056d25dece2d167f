"""POST /v1/deals/{id}/win in four statements (docs/performance.md, Round 9): the deal and its
customer's credit line read and locked in one statement, what the win decides on read under those
locks in one more, the writes in one statement on PostgreSQL, the events in one more. What it writes and announces is
what the unit of work wrote before."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from sqlalchemy import event, select

from tessera_sales.credit.models import DealCreditCheck
from tessera_sales.deals.models import Deal
from tessera_sales.testing import Api

# The tables a win reads or writes (other statements on the engine are not the win's).
WIN_TABLES = ("deals", "deal_", "pipeline", "credit", "overdue", "outbox_events", "exchange_rate")


async def history(api: Api, deal_id: str) -> list[dict[str, Any]]:
    r = await api.client.get(f"/v1/deals/{deal_id}/history", headers=api.manager)
    assert r.status_code == 200, r.text
    return list(r.json()["items"])


@pytest.mark.sqlite
async def test_a_win_writes_the_deal_its_history_its_check_and_both_events(api: Api) -> None:
    deal = await api.deal(amount="1000.00", payment_terms_days=30)
    moved = await api.client.patch(f"/v1/deals/{deal['id']}", json={"stage": "negotiation"}, headers=api.rep1)
    assert moved.status_code == 200, moved.text
    r = await api.client.post(f"/v1/deals/{deal['id']}/win", json={"payment_terms_days": 14}, headers=api.rep1)
    assert r.status_code == 200, r.text
    won = r.json()
    assert (won["stage"], won["probability"], won["payment_terms_days"]) == ("won", 100, 14)
    assert won["version"] == moved.json()["version"] + 1 and won["closed_at"] is not None
    # What was answered is what was written.
    stored = (await api.client.get(f"/v1/deals/{deal['id']}", headers=api.rep1)).json()
    assert stored == won
    async with api.app.state.runtime.sessions() as s:
        row = await s.get(Deal, uuid.UUID(deal["id"]))
        assert row is not None
        assert (row.stage_kind, row.furthest_rank, row.cycle_seconds is not None) == ("won", 5, True)
        check = (
            await s.execute(select(DealCreditCheck).where(DealCreditCheck.deal_id == uuid.UUID(deal["id"])))
        ).scalar_one()
        assert (check.fits, check.invoiced, check.override_by) == (True, False, None)
    steps = await history(api, deal["id"])
    assert [(h["from_stage"], h["to_stage"]) for h in steps] == [
        (None, "prospecting"),
        ("prospecting", "negotiation"),
        ("negotiation", "won"),
    ]
    assert all(h["left_at"] is not None and h["duration_seconds"] is not None for h in steps[:-1])
    assert (steps[-1]["left_at"], steps[-1]["entered_at"][:19]) == (None, won["closed_at"][:19])
    # deal.stage_changed, then deal.won: the last two events, in this order, keyed by the customer.
    events = await api.events()
    changed, announced = events[-2:]
    assert (changed["type"], announced["type"]) == ("deal.stage_changed", "deal.won")
    assert changed["key"] == announced["key"] == deal["customer_id"]
    assert (changed["data"]["from_stage_key"], changed["data"]["to_stage_key"]) == ("negotiation", "won")
    assert announced["data"]["payment_terms_days"] == 14
    assert announced["data"]["credit_check"]["fits"] is True


async def test_a_win_is_four_statements(api: Api) -> None:
    """The deal and credit line locked with the pipeline's stages; under the locks the open stage
    row, unbilled wins, overdue flag and lines; the writes; the events (BEGIN and COMMIT aside)."""
    await api.product("SKU-W", price="10.00")
    deal = await api.deal(
        amount=None,
        line_items=[
            {"product_code": "SKU-W", "quantity": "3"},
            {"description": "x", "unit_price": "1.00", "quantity": "1"},
        ],
    )
    seen: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if any(t in statement for t in WIN_TABLES):
            seen.append(statement)

    engine = api.app.state.runtime.engine.sync_engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        r = await api.client.post(f"/v1/deals/{deal['id']}/win", headers=api.rep1)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert r.status_code == 200, r.text
    assert len(seen) == 4, "\n".join(s[:80] for s in seen)
    [won] = await api.events("deal.won")
    assert [(x["description"], x["quantity"]) for x in won["data"]["line_items"]] == [
        ("Product SKU-W", "3"),
        ("x", "1"),
    ]
    assert [x["description"] for x in r.json()["line_items"]] == ["Product SKU-W", "x"]


async def test_a_stage_move_and_a_win_at_once_leave_one_history(api: Api) -> None:
    """The win reads the deal's open history row under the deal's lock: a PATCH that moved the
    stage first is seen whole (its row closed, the win entered from its stage)."""
    for _ in range(5):
        deal = await api.deal()
        patched, won = await asyncio.gather(
            api.client.patch(f"/v1/deals/{deal['id']}", json={"stage": "proposal"}, headers=api.rep1),
            api.client.post(f"/v1/deals/{deal['id']}/win", headers=api.rep1),
        )
        assert won.status_code == 200, won.text
        steps = await history(api, deal["id"])
        assert [h["from_stage"] for h in steps[1:]] == [h["to_stage"] for h in steps[:-1]]
        assert [h["left_at"] is None for h in steps] == [False] * (len(steps) - 1) + [True]
        assert steps[-1]["to_stage"] == "won"
        assert len(steps) == (3 if patched.status_code == 200 else 2)


@pytest.mark.sqlite
async def test_a_repeated_win_with_its_key_answers_the_first_and_writes_nothing(api: Api) -> None:
    deal = await api.deal()
    headers = {**api.rep1, "Idempotency-Key": f"win-{uuid.uuid4()}"}
    first = await api.client.post(f"/v1/deals/{deal['id']}/win", json={}, headers=headers)
    again = await api.client.post(f"/v1/deals/{deal['id']}/win", json={}, headers=headers)
    assert (first.status_code, again.status_code) == (200, 200)
    assert again.json() == first.json() and again.headers["Idempotent-Replayed"] == "true"
    assert len(await api.events("deal.won")) == 1
    assert len(await history(api, deal["id"])) == 2


@pytest.mark.sqlite
async def test_the_unbilled_wins_are_summed_into_the_exposure(api: Api) -> None:
    """Checked wins billing has not invoiced yet count, summed in one query, to the cent."""
    customer = str(uuid.uuid4())
    first = await api.deal(customer_id=customer, amount="4000.00")
    assert (await api.client.post(f"/v1/deals/{first['id']}/win", headers=api.rep1)).status_code == 200
    second = await api.deal(customer_id=customer, amount="5000.00")
    assert (await api.client.post(f"/v1/deals/{second['id']}/win", headers=api.rep1)).status_code == 200
    third = await api.deal(customer_id=customer, amount="1000.01")
    r = await api.client.post(f"/v1/deals/{third['id']}/win", headers=api.rep1)
    assert r.status_code == 409, r.text
    assert (r.json()["type"], r.json()["exposure"], r.json()["limit"]) == (
        "urn:tessera:problem:credit-limit-exceeded",
        "9000.00",
        "10000.00",
    )
