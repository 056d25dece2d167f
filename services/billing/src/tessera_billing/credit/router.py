from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Request, Response

from tessera_billing.api import CREDIT_READERS, check_precision
from tessera_billing.credit.models import CreditProfile
from tessera_billing.credit.schemas import CreditCheckIn, CreditCheckOut, CreditProfileOut, CreditProfilePatch
from tessera_billing.credit.service import check_amount, find_profile, update_profile
from tessera_shared.auth import Principal, Role, require_roles
from tessera_shared.deps import SessionDep
from tessera_shared.errors import InvalidInput, NotFound
from tessera_shared.http.etag import check_if_match, etag_for

router = APIRouter(prefix="/v1/credit", tags=["credit"])

READERS = CREDIT_READERS
# Changing a limit is finance's own permission, apart from issuing (clerk) and selling (sales).
LIMIT_SETTERS = (Role.FINANCE_MANAGER,)


async def load(session: SessionDep, customer_id: uuid.UUID) -> CreditProfile:
    profile = await find_profile(session, customer_id)
    if profile is None:
        raise no_profile(customer_id)
    return profile


def no_profile(customer_id: uuid.UUID) -> NotFound:
    return NotFound("credit profile", customer_id, detail=f"no credit profile for customer {customer_id}")


@router.get("/{customer_id}", response_model=CreditProfileOut, summary="A customer's credit profile")
async def get_credit_profile(
    customer_id: uuid.UUID,
    session: SessionDep,
    response: Response,
    _: Annotated[Principal, require_roles(*READERS)],
) -> CreditProfileOut:
    profile = await load(session, customer_id)
    response.headers["ETag"] = etag_for(profile.customer_id, profile.version)
    return CreditProfileOut.model_validate(profile)


@router.patch(
    "/{customer_id}",
    response_model=CreditProfileOut,
    summary="Change rating, limit or terms (finance_manager; If-Match honoured)",
)
async def patch_credit_profile(
    customer_id: uuid.UUID,
    body: CreditProfilePatch,
    request: Request,
    session: SessionDep,
    response: Response,
    _: Annotated[Principal, require_roles(*LIMIT_SETTERS)],
) -> CreditProfileOut:
    changes = body.model_dump(exclude_unset=True)
    if any(v is None for v in changes.values()):
        field = next(k for k, v in changes.items() if v is None)
        raise InvalidInput(field, "may not be null")
    profile = await find_profile(session, customer_id, for_update=True)
    if profile is None:
        raise no_profile(customer_id)
    check_if_match(request, profile.customer_id, profile.version)
    if "credit_limit" in changes:
        check_precision(changes["credit_limit"], changes.get("currency", profile.currency), "credit_limit")
    if changes:
        await update_profile(session, profile, changes)
    response.headers["ETag"] = etag_for(profile.customer_id, profile.version)
    return CreditProfileOut.model_validate(profile)


@router.post(
    "/{customer_id}/check",
    response_model=CreditCheckOut,
    summary="Does a new amount fit under the customer's credit limit?",
    responses={409: {"description": "no rate converts the amount or an open balance: `no-exchange-rate`"}},
)
async def check_credit(
    customer_id: uuid.UUID,
    body: CreditCheckIn,
    session: SessionDep,
    _: Annotated[Principal, require_roles(*READERS)],
) -> CreditCheckOut:
    profile = await load(session, customer_id)
    check = await check_amount(session, profile, body.amount, body.currency)
    return CreditCheckOut(
        customer_id=customer_id,
        fits=check.fits,
        currency=profile.currency,
        requested_amount=check.amount,
        exposure=check.exposure,
        credit_limit=check.credit_limit,
        headroom=check.headroom,
        rating=profile.rating,
        exchange_rate=None if check.exchange_rate is None else str(check.exchange_rate),
    )
