"""``GET /v1/customers/{customer_id}/sales-summary``: sales' part of the customer 360 view in one read.

Internal: the gateway's 360 view reads it with the caller's token. The gateway forwards
``/api/v1/customers/...`` to the customer service, so this path is not public and is not in
the gateway's merged OpenAPI document. One read-only transaction (one snapshot) answers it,
with the rules of ``GET /v1/deals``: the same roles, and a rep sees only their own deals.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Request

from tessera_sales.api import DEAL_READERS
from tessera_sales.deals.models import Deal, DealLine
from tessera_sales.deals.schemas import DealOut, LineItemOut
from tessera_sales.ownership import scope_owner
from tessera_sales.pipelines.rules import Stages
from tessera_sales.pipelines.service import stage_names
from tessera_sales.summary import service
from tessera_sales.summary.schemas import CurrencyAmount, SalesSummary
from tessera_shared.auth import Principal, require_roles
from tessera_shared.db import read_session

router = APIRouter(prefix="/v1/customers", tags=["deals"])

# Who reads GET /v1/deals reads the summary.
READERS = DEAL_READERS
OPEN_LISTED = 200
RECENT = 10


def _deal_out(deal: Deal, lines: dict[uuid.UUID, list[DealLine]], pipelines: Mapping[uuid.UUID, Stages]) -> DealOut:
    out = DealOut.model_validate(deal)
    out.line_items = [LineItemOut.model_validate(x) for x in lines.get(deal.id, [])]
    # The 360 view shows the pipeline and stage by the names the pipeline gives them.
    if (stages := pipelines.get(deal.pipeline_id)) is not None:
        out.pipeline_name, out.stage_name = stages.pipeline_name, stages.name(deal.stage)
    return out


def _amounts(by_currency: dict[str, Decimal]) -> list[CurrencyAmount]:
    return [CurrencyAmount(currency=c, amount=v) for c, v in sorted(by_currency.items())]


@router.get(
    "/{customer_id}/sales-summary",
    response_model=SalesSummary,
    summary="One customer's open and recent deals, pipeline, weighted pipeline and lifetime won in one read",
    description="Internal (the gateway's 360 view); the rules of `GET /v1/deals`: a rep sees and sums "
    "only their own deals. Sums cover every deal in scope, rounded to each currency's minor unit; "
    "an unknown customer has empty lists.",
)
async def get_sales_summary(
    customer_id: uuid.UUID,
    request: Request,
    principal: Annotated[Principal, require_roles(*READERS)],
) -> SalesSummary:
    owner = scope_owner(principal)
    async with read_session(request.app.state.runtime.sessions, snapshot=True) as session:
        listed = await service.open_deals(session, customer_id, owner, OPEN_LISTED + 1)
        recent = await service.recent_deals(session, customer_id, owner, RECENT)
        totals = await service.totals(session, customer_id, owner)
        lines = await service.lines_of(session, [*listed[:OPEN_LISTED], *recent])
        pipelines = await stage_names(session, {d.pipeline_id for d in [*listed[:OPEN_LISTED], *recent]})
        # Inside the transaction: its end expires the rows read.
        return SalesSummary(
            customer_id=customer_id,
            open_deals=[_deal_out(d, lines, pipelines) for d in listed[:OPEN_LISTED]],
            recent_deals=[_deal_out(d, lines, pipelines) for d in recent],
            pipeline_value=_amounts(totals.pipeline),
            weighted_pipeline=_amounts(totals.weighted),
            lifetime_won=_amounts(totals.won),
            truncated=len(listed) > OPEN_LISTED,
        )
