"""Paying part of an invoice with the customer's loyalty points (docs/domain.md §10.5)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Response

from tessera_billing.api import INVOICE_READERS, SettingsDep, today
from tessera_billing.loyalty.schemas import LoyaltyPaymentCreate, LoyaltyPaymentOut
from tessera_billing.loyalty.service import find_request, request_for_invoice
from tessera_shared.auth import Principal, Role, require_roles
from tessera_shared.deps import SessionDep
from tessera_shared.http.idempotency import IdempotencyDep

router = APIRouter(tags=["loyalty payments"])


@router.post(
    "/v1/invoices/{invoice_id}/loyalty-payments",
    status_code=202,
    response_model=LoyaltyPaymentOut,
    summary="Pay part of an open invoice with the customer's points (answered by the customer service)",
)
async def request_loyalty_payment(
    invoice_id: uuid.UUID,
    body: LoyaltyPaymentCreate,
    session: SessionDep,
    settings: SettingsDep,
    idem: IdempotencyDep,
    principal: Annotated[Principal, require_roles(Role.BILLING_CLERK)],
) -> Response:
    if (replayed := await idem.begin(body)) is not None:
        return replayed
    request = await request_for_invoice(
        session, settings, invoice_id, points=body.points, actor=principal.subject, on=today()
    )
    return await idem.respond(
        202, LoyaltyPaymentOut.model_validate(request), headers={"Location": f"/v1/loyalty-payments/{request.id}"}
    )


@router.get("/v1/loyalty-payments/{request_id}", response_model=LoyaltyPaymentOut, summary="One payment with points")
async def get_loyalty_payment(
    request_id: uuid.UUID,
    session: SessionDep,
    _: Annotated[Principal, require_roles(*INVOICE_READERS)],
) -> LoyaltyPaymentOut:
    return LoyaltyPaymentOut.model_validate(await find_request(session, request_id))
