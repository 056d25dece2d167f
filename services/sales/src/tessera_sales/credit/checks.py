"""Reading a deal's credit-limit check, under the deal's own visibility rule."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from tessera_sales.credit.models import DealCreditCheck
from tessera_sales.deals.service import get_deal
from tessera_shared.auth import Principal
from tessera_shared.errors import NotFound


async def deal_credit_check(session: AsyncSession, deal_id: uuid.UUID, principal: Principal) -> DealCreditCheck:
    """The check of the deal's (last) win; 404 for a deal the caller may not see or never won."""
    await get_deal(session, deal_id, principal)
    check = await session.get(DealCreditCheck, deal_id)
    if check is None:
        raise NotFound("credit check", deal_id, detail=f"deal {deal_id} was never won: no credit check")
    return check
