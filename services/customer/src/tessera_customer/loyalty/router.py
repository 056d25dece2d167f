"""Member card: balance and level, redemption with a reason, the statement of movements."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field, StrictInt

from tessera_customer.common import SettingsDep, load_customer, refuse_if_erased
from tessera_customer.customers.router import READERS
from tessera_customer.customers.service import ensure_may_change
from tessera_customer.loyalty.models import LoyaltyAccount
from tessera_customer.loyalty.rules import level_for
from tessera_customer.loyalty.service import entries_page, peek_account, redeem_points
from tessera_customer.settings import CustomerSettings
from tessera_shared.auth import Principal, Role, require_roles
from tessera_shared.deps import SessionDep
from tessera_shared.http.etag import etag_for
from tessera_shared.http.idempotency import IdempotencyDep
from tessera_shared.http.inputs import Trim
from tessera_shared.http.pagination import Page, PageQuery

router = APIRouter(prefix="/v1/customers/{customer_id}/loyalty", tags=["loyalty"])


class LoyaltyOut(BaseModel):
    customer_id: uuid.UUID
    balance: int
    earned_total: int
    level: str
    discount_percent: Decimal
    version: int


class Redemption(BaseModel):
    model_config = ConfigDict(extra="forbid")

    points: StrictInt = Field(gt=0, le=10_000_000)
    reason: Annotated[str, Trim(min_length=3, max_length=300)]


class EntryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    kind: str
    points: int
    balance_after: int
    reason: str
    actor: str | None
    created_at: datetime


def _out(account: LoyaltyAccount, settings: CustomerSettings) -> LoyaltyOut:
    level, discount = level_for(account.earned_total, settings.loyalty_levels)
    return LoyaltyOut(
        customer_id=account.customer_id,
        balance=account.balance,
        earned_total=account.earned_total,
        level=level,
        discount_percent=discount,
        version=account.version,
    )


@router.get("", response_model=LoyaltyOut, summary="Points balance and member level")
async def get_loyalty(
    customer_id: uuid.UUID,
    session: SessionDep,
    settings: SettingsDep,
    response: Response,
    _: Annotated[Principal, require_roles(*READERS)],
) -> LoyaltyOut:
    await load_customer(session, customer_id)
    account = await peek_account(session, settings, customer_id)
    response.headers["ETag"] = etag_for(customer_id, account.version)
    return _out(account, settings)


@router.post(
    "/redemptions",
    name="redeem_points",
    response_model=LoyaltyOut,
    status_code=201,
    summary="Redeem points (409 if short)",
)
async def redeem(
    customer_id: uuid.UUID,
    body: Redemption,
    session: SessionDep,
    settings: SettingsDep,
    idem: IdempotencyDep,
    principal: Annotated[
        Principal, require_roles(Role.SALES_MANAGER, Role.SALES_REP, Role.SUPPORT_AGENT, Role.SERVICE)
    ],
) -> Response:
    customer = await load_customer(session, customer_id)
    if not principal.has_any({Role.ADMIN, Role.SALES_MANAGER, Role.SUPPORT_AGENT, Role.SERVICE}):
        ensure_may_change(principal, customer)
    refuse_if_erased(customer)
    if (replayed := await idem.begin(body)) is not None:
        return replayed
    account = await redeem_points(
        session, settings, customer.id, points=body.points, reason=body.reason, actor=principal.subject
    )
    return await idem.respond(201, _out(account, settings))


@router.get("/entries", response_model=Page[EntryOut], summary="Statement: every movement, newest first")
async def list_loyalty_entries(
    customer_id: uuid.UUID,
    session: SessionDep,
    page: PageQuery,
    _: Annotated[Principal, require_roles(*READERS)],
) -> Page[EntryOut]:
    await load_customer(session, customer_id)
    rows, cursor = await entries_page(session, customer_id, page)
    return Page[EntryOut](items=[EntryOut.model_validate(r) for r in rows], next_cursor=cursor)
