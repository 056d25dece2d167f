"""deal.stage_changed carries the deal's owner (docs/domain.md §10.6): the customer timeline shows
the entry under sales' owner rule."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from tessera_sales.testing import Api
from tessera_shared.events.contracts import CustomerCreated


@pytest.mark.sqlite
async def test_a_stage_change_names_the_deal_owner(api: Api) -> None:
    cid = uuid.uuid4()
    await api.consume(
        CustomerCreated(
            customer_id=cid,
            kind="organization",
            name="Acme",
            owner_id="rep1",
            status="prospect",
            created_at=datetime(2026, 1, 1, tzinfo=UTC),
        )
    )
    deal = await api.deal(customer_id=str(cid))
    r = await api.client.patch(f"/v1/deals/{deal['id']}", json={"stage": "proposal"}, headers=api.rep1)
    assert r.status_code == 200, r.text
    [changed] = await api.events("deal.stage_changed")
    assert (changed["data"]["owner_id"], changed["data"]["to_stage"]) == (deal["owner_id"], "proposal")
    assert deal["owner_id"] == "rep1"
