"""Consent kept from the customer service's facts, and what it does to campaign memberships
(docs/domain.md §10.4). Each handler reaches the same state however often its event arrives."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from tessera_sales.campaigns import service
from tessera_shared.events import CloudEvent
from tessera_shared.events.contracts import CustomerConsentChanged, CustomerErased, CustomerMerged


async def on_consent_changed(session: AsyncSession, event: CloudEvent, data: CustomerConsentChanged) -> None:
    """The newest answer per purpose is kept; the customer's memberships are checked again (a withdrawal
    suspends, a consent given makes active again)."""
    if await service.record_consent(session, data):
        await service.recheck_customer(session, data.customer_id)


async def on_customer_erased(session: AsyncSession, event: CloudEvent, data: CustomerErased) -> None:
    """Runs after the local copy marked the customer erased: every consent withdrawn, every membership
    suspended for good (reason ``customer_erased``)."""
    await service.withdraw_all_consents(session, data.customer_id, data.erased_at)
    await service.recheck_customer(session, data.customer_id)


async def on_customer_merged(session: AsyncSession, event: CloudEvent, data: CustomerMerged) -> None:
    """The merged customer's memberships move to the survivor and are checked against its consent."""
    if data.merged_id != data.survivor_id:
        await service.merge_members(session, data.merged_id, data.survivor_id)
