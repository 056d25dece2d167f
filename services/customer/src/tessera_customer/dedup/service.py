"""Merging a duplicate into its survivor: one record keeps everything, the other points at it."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import cast

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from tessera_customer.contacts.models import Contact
from tessera_customer.customers.models import DEMOGRAPHIC, GEOGRAPHIC, PSYCHOGRAPHIC, Customer
from tessera_customer.customers.repository import CustomerRepository
from tessera_customer.lifecycle.rules import merged_status_steps
from tessera_customer.lifecycle.service import transition
from tessera_customer.loyalty.models import LoyaltyAccount, LoyaltyEntry
from tessera_customer.loyalty.rules import level_for
from tessera_customer.loyalty.service import settle_level
from tessera_customer.privacy.models import Consent, ConsentRecord
from tessera_customer.settings import CustomerSettings
from tessera_customer.timeline import service as timeline
from tessera_customer.timeline.models import TimelineEntry
from tessera_customer.value.models import CustomerSignals, PaymentFact, Purchase
from tessera_shared.db import utcnow
from tessera_shared.events.contracts import CustomerConsentChanged, CustomerMerged
from tessera_shared.events.contracts.customer import ConsentPurpose
from tessera_shared.outbox import publish

FILL_IN = (
    "email",
    "phone",
    "owner_id",
    "relation",
    "relationship_type",
    *DEMOGRAPHIC,
    *GEOGRAPHIC,
    *[f for f in PSYCHOGRAPHIC if f != "preferences"],
)


async def merge(
    session: AsyncSession, settings: CustomerSettings, survivor: Customer, duplicate: Customer, actor: str
) -> None:
    now = utcnow()
    external_id, duplicate.external_id = duplicate.external_id, None
    await session.flush()  # frees the unique external id before the survivor may take it
    if survivor.owner_id is None and duplicate.owner_id is not None:
        survivor.owner_active_at = duplicate.owner_active_at  # the pool rule's clock comes with the owner
    for field in FILL_IN:
        if getattr(survivor, field) in (None, "") and getattr(duplicate, field) not in (None, ""):
            setattr(survivor, field, getattr(duplicate, field))
    survivor.external_id = survivor.external_id or external_id
    survivor.tags = sorted(set(survivor.tags) | set(duplicate.tags))
    survivor.preferences = sorted(set(survivor.preferences) | set(duplicate.preferences))
    survivor.channels = survivor.channels + [c for c in duplicate.channels if c not in survivor.channels]
    survivor.custom_attributes = {**duplicate.custom_attributes, **survivor.custom_attributes}
    # Facts and history move; the status is then recomputed from the combined purchases.
    totals = dict(survivor.lifetime_values)
    for currency, amount in duplicate.lifetime_values.items():
        totals[currency] = str(Decimal(totals.get(currency, "0")) + Decimal(amount))
    survivor.lifetime_values = totals
    survivor.purchase_count += duplicate.purchase_count
    firsts = [t for t in (survivor.first_purchase_at, duplicate.first_purchase_at) if t]
    lasts = [t for t in (survivor.last_purchase_at, duplicate.last_purchase_at) if t]
    survivor.first_purchase_at = min(firsts) if firsts else None
    survivor.last_purchase_at = max(lasts) if lasts else None
    for model in (Contact, TimelineEntry, Purchase, PaymentFact, LoyaltyEntry, ConsentRecord):
        await session.execute(
            update(model).where(col(model.customer_id) == duplicate.id).values(customer_id=survivor.id)
        )
    await _merge_consents(session, survivor, duplicate)
    await _merge_loyalty(session, settings, survivor, duplicate)
    await _merge_signals(session, survivor, duplicate)
    await CustomerRepository(session).set_tags(survivor.id, survivor.tags)
    await CustomerRepository(session).set_tags(duplicate.id, [])
    duplicate.merged_into_id, duplicate.updated_at = survivor.id, now
    duplicate.version += 1
    survivor.version += 1
    survivor.updated_at = now
    await session.flush()
    await publish(
        session,
        CustomerMerged(survivor_id=survivor.id, merged_id=duplicate.id, actor=actor, merged_at=now),
        subject=survivor.id,
    )
    timeline.record(
        session,
        survivor.id,
        "customer.merged",
        f"Merged duplicate {duplicate.id} into this customer",
        occurred_at=now,
        ref_id=duplicate.id,
        data={"merged_id": str(duplicate.id), "actor": actor},
    )
    await _recompute_status(session, settings, survivor, duplicate.status, now)


async def _recompute_status(
    session: AsyncSession, settings: CustomerSettings, survivor: Customer, duplicate_status: str, now: datetime
) -> None:
    """Walk the survivor along the machine to what the combined purchases say (each step audited)."""
    last = survivor.last_purchase_at
    in_window = (
        0
        if last is None
        else int(
            await session.scalar(
                select(func.count())
                .select_from(Purchase)
                .where(
                    col(Purchase.customer_id) == survivor.id,
                    col(Purchase.occurred_at) > last - timedelta(days=settings.loyal_window_days),
                )
            )
            or 0
        )
    )
    for to_status, reason in merged_status_steps(
        survivor.status,
        duplicate_status,
        purchases_total=survivor.purchase_count,
        purchases_in_window=in_window,
        last_purchase_at=last,
        now=now,
        loyal_min_purchases=settings.loyal_min_purchases,
        churn_window_days=settings.churn_window_days,
    ):
        await transition(session, survivor, to_status, reason=reason, at=now)


async def _merge_consents(session: AsyncSession, survivor: Customer, duplicate: Customer) -> None:
    """The later answer per purpose wins; each answer the survivor takes over is announced as its own
    (customer.consent_changed at the answer's time, before customer.merged: docs/domain.md §10.4)."""
    theirs = (await session.scalars(select(Consent).where(col(Consent.customer_id) == duplicate.id))).all()
    for consent in sorted(theirs, key=lambda c: c.purpose):
        mine = await session.get(Consent, (survivor.id, consent.purpose))
        if mine is None:
            session.add(
                Consent(
                    customer_id=survivor.id,
                    purpose=consent.purpose,
                    granted=consent.granted,
                    source=consent.source,
                    recorded_at=consent.recorded_at,
                    recorded_by=consent.recorded_by,
                )
            )
        elif consent.recorded_at > mine.recorded_at:  # the later answer is the customer's current will
            mine.granted, mine.source, mine.recorded_at, mine.recorded_by = (
                consent.granted,
                consent.source,
                consent.recorded_at,
                consent.recorded_by,
            )
        else:
            continue
        await publish(
            session,
            CustomerConsentChanged(
                customer_id=survivor.id,
                purpose=cast(ConsentPurpose, consent.purpose),
                granted=consent.granted,
                source=consent.source,
                actor=consent.recorded_by,
                changed_at=consent.recorded_at,
            ),
            subject=survivor.id,
        )
    await session.flush()
    await session.execute(delete(Consent).where(col(Consent.customer_id) == duplicate.id))


async def _merge_loyalty(
    session: AsyncSession, settings: CustomerSettings, survivor: Customer, duplicate: Customer
) -> None:
    theirs = await session.get(LoyaltyAccount, duplicate.id)
    if theirs is None:
        return
    mine = await session.get(LoyaltyAccount, survivor.id)
    if mine is None:
        # Starts at the first level: the survivor's level, as billing knows it, is then announced below.
        first = level_for(0, settings.loyalty_levels)[0]
        mine = LoyaltyAccount(
            customer_id=survivor.id, balance=theirs.balance, earned_total=theirs.earned_total, level=first
        )
        session.add(mine)
    else:
        mine.balance += theirs.balance
        mine.earned_total += theirs.earned_total
        mine.version += 1
    await settle_level(session, settings, mine)  # the combined earned total may reach a higher level
    await session.delete(theirs)


async def _merge_signals(session: AsyncSession, survivor: Customer, duplicate: Customer) -> None:
    theirs = await session.get(CustomerSignals, duplicate.id)
    if theirs is None:
        return
    mine = await session.get(CustomerSignals, survivor.id)
    if mine is None:
        mine = CustomerSignals(customer_id=survivor.id)
        session.add(mine)
    for field in ("open_tickets", "escalated_tickets", "overdue_invoices"):
        setattr(mine, field, sorted(set(getattr(mine, field) or []) | set(getattr(theirs, field) or [])))
    mine.sla_breaches = (mine.sla_breaches or 0) + theirs.sla_breaches
    mine.lost_deals = (mine.lost_deals or 0) + theirs.lost_deals
    reasons = dict(mine.lost_reasons or {})
    for reason, n in (theirs.lost_reasons or {}).items():
        reasons[reason] = int(reasons.get(reason, 0)) + int(n)
    mine.lost_reasons = reasons
    mine.last_csat = mine.last_csat if mine.last_csat is not None else theirs.last_csat
    await session.delete(theirs)
