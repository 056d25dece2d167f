"""Erasure reaches every personal text of sales (docs/domain.md §10.3): deals' titles, lost reasons,
line descriptions and stage-change reasons, leads' disqualification reasons, activities; amounts,
stages and dates stay; the sent outbox copies of the customer's facts go."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from tessera_sales.deals.models import DealLine, DealStageChange
from tessera_sales.testing import Api
from tessera_shared.events.contracts import CustomerCreated, CustomerErased
from tessera_shared.http.idempotency import ERASED_REPLY
from tessera_shared.infra_tables import outbox

T0 = datetime(2026, 1, 1, tzinfo=UTC)
SECRET = "Ada Lovelace's secret"


@pytest.mark.sqlite
async def test_erasure_removes_deal_texts_and_keeps_amounts(api: Api) -> None:
    cid = uuid.uuid4()
    await api.consume(
        CustomerCreated(customer_id=cid, kind="person", name=SECRET, owner_id="rep1", status="prospect", created_at=T0)
    )
    deal = await api.deal(
        customer_id=str(cid),
        title=f"Deal for {SECRET}",
        amount=None,
        line_items=[{"description": f"Line for {SECRET}", "quantity": "2", "unit_price": "350.00"}],
    )
    r = await api.client.post(f"/v1/deals/{deal['id']}/lose", json={"reason": f"{SECRET} moved"}, headers=api.rep1)
    assert r.status_code == 200, r.text
    r = await api.client.post(
        f"/v1/deals/{deal['id']}/reopen", json={"reason": f"{SECRET} is back"}, headers=api.manager
    )
    assert r.status_code == 200, r.text
    lead = (await api.client.post("/v1/leads", json={"name": "L", "source": "other"}, headers=api.rep1)).json()
    await api.client.post(f"/v1/leads/{lead['id']}/convert", json={"customer_id": str(cid)}, headers=api.rep1)
    async with api.app.state.runtime.sessions() as s, s.begin():  # the relay has sent what was published
        await s.execute(outbox.update().values(sent_at=T0))

    await api.consume(CustomerErased(customer_id=cid, requested_by="dpo", erased_at=T0))

    got = (await api.client.get(f"/v1/deals/{deal['id']}", headers=api.rep1)).json()
    assert (got["title"], got["lost_reason"], got["amount"], got["stage"]) == (
        "[erased]",
        None,
        "700.00",
        "negotiation",
    )
    assert [line["description"] for line in got["line_items"]] == ["[erased]"]
    async with api.app.state.runtime.sessions() as s:
        lines = (await s.scalars(select(DealLine.description))).all()
        reasons = (
            await s.scalars(select(DealStageChange.reason).where(DealStageChange.deal_id == uuid.UUID(deal["id"])))
        ).all()
        envelopes = (await s.scalars(select(outbox.c.envelope))).all()
    assert not any(SECRET in line for line in lines)
    assert reasons and all(r is None for r in reasons)
    # Only customer.erased's own effects may remain in the outbox: nothing names the customer.
    assert not any(SECRET in e for e in envelopes)


@pytest.mark.sqlite
async def test_a_stored_idempotent_answer_loses_its_texts_and_still_answers_a_retry(api: Api) -> None:
    cid = uuid.uuid4()
    await api.consume(
        CustomerCreated(customer_id=cid, kind="person", name="Ada", owner_id="rep1", status="prospect", created_at=T0)
    )
    deal = await api.deal(customer_id=str(cid), title=f"Deal for {SECRET}")
    headers = {**api.rep1, "Idempotency-Key": "lose-1"}
    lose = {"reason": f"{SECRET} moved"}
    r = await api.client.post(f"/v1/deals/{deal['id']}/lose", json=lose, headers=headers)
    assert r.status_code == 200 and SECRET in r.text

    await api.consume(CustomerErased(customer_id=cid, requested_by="dpo", erased_at=T0))

    r = await api.client.post(f"/v1/deals/{deal['id']}/lose", json=lose, headers=headers)
    assert (r.status_code, r.headers["Idempotent-Replayed"]) == (200, "true")
    assert r.json() == ERASED_REPLY and SECRET not in r.text
