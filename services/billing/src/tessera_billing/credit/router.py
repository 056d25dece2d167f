from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Response

from tessera_billing.credit.models import CreditProfile
from tessera_billing.credit.schemas import CreditProfileOut
from tessera_shared.auth import Principal, Role, require_roles
from tessera_shared.deps import SessionDep
from tessera_shared.http.errors import Problem
from tessera_shared.http.etag import etag_for

router = APIRouter(prefix="/v1/credit", tags=["credit"])

READERS = (Role.BILLING_CLERK, Role.FINANCE_MANAGER, Role.SALES_MANAGER, Role.SALES_REP, Role.SERVICE)


@router.get("/{customer_id}", response_model=CreditProfileOut, summary="A customer's credit profile")
async def get_credit_profile(
    customer_id: uuid.UUID,
    session: SessionDep,
    response: Response,
    _: Annotated[Principal, require_roles(*READERS)],
) -> CreditProfileOut:
    profile = await session.get(CreditProfile, customer_id)
    if profile is None:
        raise Problem(404, f"no credit profile for customer {customer_id}")
    response.headers["ETag"] = etag_for(profile.customer_id, profile.version)
    return CreditProfileOut.model_validate(profile)
