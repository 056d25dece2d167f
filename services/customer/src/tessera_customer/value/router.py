"""Value on demand: the recomputation run, one customer's churn risk with reasons, the win-back list."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict

from tessera_customer.common import SettingsDep, load_customer
from tessera_customer.customers.router import READERS
from tessera_customer.timeline.visibility import lost_deals_seen_by
from tessera_customer.value.service import recompute_values, risk_of, stored_signals, trends, win_back_page
from tessera_shared.auth import Principal, Role, require_roles
from tessera_shared.db import utcnow
from tessera_shared.deps import SessionDep
from tessera_shared.http.inputs import IsoAwareDatetime
from tessera_shared.http.pagination import Page, PageQuery

router = APIRouter(prefix="/v1/customers", tags=["value"])


class Recompute(BaseModel):
    model_config = ConfigDict(extra="forbid")

    as_of: IsoAwareDatetime | None = None


class RecomputeOut(BaseModel):
    as_of: datetime
    customers: int
    tier_changes: int


class ChurnRiskOut(BaseModel):
    customer_id: uuid.UUID
    score: int
    at_risk: bool
    reasons: list[dict[str, object]]
    lost_deals: int
    lost_reasons: dict[str, int]
    as_of: datetime


class WinBackItem(BaseModel):
    id: uuid.UUID
    name: str
    owner_id: str | None
    status: str
    tier: str | None
    churn_risk: int | None
    monetary: Decimal
    last_purchase_at: datetime | None


@router.post(
    "/value-recomputations",
    name="recompute_values",
    response_model=RecomputeOut,
    summary="Recompute RFM, tiers, frequency, stage and risk now (as_of drives the clock)",
)
async def recompute(
    body: Recompute,
    request: Request,
    settings: SettingsDep,
    _: Annotated[Principal, require_roles(Role.SALES_MANAGER, Role.SERVICE)],
) -> RecomputeOut:
    as_of = body.as_of or utcnow()
    result = await recompute_values(request.app.state.runtime.sessions, settings, as_of)
    return RecomputeOut(as_of=as_of, **result)


@router.get("/win-back", response_model=Page[WinBackItem], summary="Churned and at-risk customers, most valuable first")
async def list_win_back(
    session: SessionDep,
    page: PageQuery,
    settings: SettingsDep,
    _: Annotated[Principal, require_roles(Role.SALES_MANAGER, Role.SALES_REP, Role.SERVICE)],
) -> Page[WinBackItem]:
    rows, cursor = await win_back_page(session, settings, page)
    return Page[WinBackItem](
        items=[
            WinBackItem(
                id=c.id,
                name=c.name,
                owner_id=c.owner_id,
                status=c.status,
                tier=c.tier,
                churn_risk=c.churn_risk,
                monetary=c.monetary,
                last_purchase_at=c.last_purchase_at,
            )
            for c in rows
        ],
        next_cursor=cursor,
    )


@router.get("/{customer_id}/churn-risk", response_model=ChurnRiskOut, summary="Churn-risk score with its reasons")
async def get_churn_risk(
    customer_id: uuid.UUID,
    session: SessionDep,
    settings: SettingsDep,
    principal: Annotated[Principal, require_roles(*READERS)],
) -> ChurnRiskOut:
    customer = await load_customer(session, customer_id)
    now = utcnow()
    signals = await stored_signals(session, customer_id)
    freq_trend, value_trend = await trends(session, customer_id, now, settings.value_window_days)
    risk = risk_of(customer.last_purchase_at, signals, settings, now, freq_trend, value_trend)
    lost_deals, lost_reasons = (signals.lost_deals, dict(signals.lost_reasons)) if signals else (0, {})
    # Lost deals follow sales' read rule: a rep counts (and reads the reasons of) their own only.
    if (seen := await lost_deals_seen_by(session, principal, customer.id)) is not None:
        lost_deals, lost_reasons = seen
    return ChurnRiskOut(
        customer_id=customer.id,
        score=risk.score,
        at_risk=risk.score >= settings.churn_risk_threshold,
        reasons=risk.reasons,
        lost_deals=lost_deals,
        lost_reasons=lost_reasons,
        as_of=now,
    )
