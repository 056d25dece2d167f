"""A deal's credit-limit check (docs/domain.md §10.1): the figures, the rate used, the approver."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter

from tessera_sales.api import DEAL_READERS
from tessera_sales.credit.checks import deal_credit_check
from tessera_sales.credit.schemas import DealCreditCheckOut
from tessera_shared.auth import Principal, require_roles
from tessera_shared.deps import SessionDep

router = APIRouter(prefix="/v1/deals", tags=["deals"])


@router.get(
    "/{deal_id}/credit-check",
    response_model=DealCreditCheckOut,
    summary="The credit-limit check of the deal's win: limit, exposure, amount, rate used, who overrode",
)
async def get_deal_credit_check(
    deal_id: uuid.UUID, session: SessionDep, principal: Annotated[Principal, require_roles(*DEAL_READERS)]
) -> DealCreditCheckOut:
    return DealCreditCheckOut.model_validate(await deal_credit_check(session, deal_id, principal))
