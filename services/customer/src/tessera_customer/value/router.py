"""Value on demand: the recomputation run, one customer's churn risk with reasons, the win-back list."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict

from tessera_customer.api import READERS, SettingsDep
from tessera_customer.customers.repository import load_customer
from tessera_customer.value.schemas import ChurnRiskOut
from tessera_customer.value.service import churn_risk_of, recompute_values, win_back_page
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
    return await churn_risk_of(session, settings, principal, customer)
