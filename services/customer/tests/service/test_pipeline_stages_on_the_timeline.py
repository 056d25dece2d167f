"""A deal in a pipeline of its own (issue 24 part 1): the timeline names the pipeline's own stage
keys (deal events carry them beside the six standard values)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from fastapi import FastAPI

from services.customer.tests.helpers import NOW, create, deliver
from tessera_shared.events.contracts import DealCreated, DealStageChanged
from tessera_shared.testing.plugin import bearer, running


@pytest.mark.sqlite
async def test_the_timeline_names_a_custom_pipelines_stages(app: FastAPI) -> None:
    async with running(app) as client:
        c = await create(client, app, who=("rep1", "sales_rep"))
        cid, deal, pipeline = uuid.UUID(c["id"]), uuid.uuid4(), uuid.uuid4()
        money = {"amount": Decimal(500), "currency": "EUR"}
        await deliver(
            app,
            DealCreated(
                deal_id=deal,
                customer_id=cid,
                title="Big one",
                stage="prospecting",
                probability=15,
                owner_id="rep1",
                created_at=NOW,
                pipeline_id=pipeline,
                pipeline_name="Enterprise",
                stage_key="discovery",
                stage_name="Discovery",
                **money,
            ),
        )
        await deliver(
            app,
            DealStageChanged(
                deal_id=deal,
                customer_id=cid,
                from_stage="prospecting",
                to_stage="qualification",
                probability=40,
                changed_by="rep1",
                changed_at=NOW + timedelta(minutes=1),
                owner_id="rep1",
                pipeline_id=pipeline,
                pipeline_name="Enterprise",
                from_stage_key="discovery",
                to_stage_key="demo",
                stage_name="Demo",
                **money,
            ),
        )
        r = await client.get(f"/v1/customers/{c['id']}/timeline", headers=bearer(app, "rep1", "sales_rep"))
        assert r.status_code == 200, r.text
        texts = [e["summary"] for e in r.json()["items"] if e["kind"].startswith("deal.")]
        assert any("discovery" in t and t.startswith("Deal created: Big one") for t in texts), texts
        assert any(t.startswith("Deal moved from discovery to demo") for t in texts), texts
