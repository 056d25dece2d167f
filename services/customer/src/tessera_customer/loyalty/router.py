"""Member card: balance and level, redemption with a reason, the statement of movements."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Response

from tessera_customer.api import READERS, SettingsDep
from tessera_customer.customers.repository import load_customer
from tessera_customer.customers.service import ensure_may_change, refuse_if_erased
from tessera_customer.loyalty.schemas import EntryOut, LoyaltyOut, Redemption
from tessera_customer.loyalty.service import entries_page, peek_account, redeem_points
from tessera_shared.auth import Principal, Role, require_roles
from tessera_shared.deps import SessionDep
from tessera_shared.http.etag import etag_for
from tessera_shared.http.idempotency import IdempotencyDep
from tessera_shared.http.pagination import Page, PageQuery

router = APIRouter(prefix="/v1/customers/{customer_id}/loyalty", tags=["loyalty"])


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
    return LoyaltyOut.of(account, settings)


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
    return await idem.respond(201, LoyaltyOut.of(account, settings))


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
