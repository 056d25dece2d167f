"""Loyalty facts from the customer service (docs/domain.md §10.5)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from tessera_billing.loyalty.service import points_redeemed, record_level, redemption_refused
from tessera_shared.db import utcnow
from tessera_shared.events import CloudEvent
from tessera_shared.events.contracts import LoyaltyLevelChanged, LoyaltyPointsRedeemed, LoyaltyRedemptionRefused


async def on_level_changed(session: AsyncSession, event: CloudEvent, data: LoyaltyLevelChanged) -> None:
    await record_level(session, data)


async def on_points_redeemed(session: AsyncSession, event: CloudEvent, data: LoyaltyPointsRedeemed) -> None:
    await points_redeemed(session, data, utcnow().date())


async def on_redemption_refused(session: AsyncSession, event: CloudEvent, data: LoyaltyRedemptionRefused) -> None:
    await redemption_refused(session, data)
