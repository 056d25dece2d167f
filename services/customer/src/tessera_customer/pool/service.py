"""Returning neglected customers to the unowned pool, and claiming them from it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from tessera_customer.customers.models import Customer
from tessera_customer.customers.service import announce_updated
from tessera_customer.pool.rules import pool_cutoff, returns_to_pool
from tessera_customer.settings import CustomerSettings
from tessera_customer.timeline import service as timeline
from tessera_shared.db import unit_of_work, utcnow
from tessera_shared.errors import Conflict


async def return_to_pool(
    sessions: async_sessionmaker[AsyncSession], settings: CustomerSettings, as_of: datetime, batch: int = 500
) -> int:
    """Unassign every owned customer whose owner was inactive for POOL_INACTIVE_DAYS; returns how many."""
    cutoff = pool_cutoff(as_of, settings.pool_inactive_days)
    active_at = col(Customer.owner_active_at)
    stale = or_(active_at <= cutoff, and_(active_at.is_(None), col(Customer.created_at) <= cutoff))
    returned = 0
    while True:
        async with unit_of_work(sessions) as session:
            rows = list(
                (
                    await session.scalars(
                        select(Customer)
                        .where(
                            col(Customer.owner_id).is_not(None),
                            col(Customer.merged_into_id).is_(None),
                            col(Customer.erased_at).is_(None),
                            stale,
                        )
                        .order_by(col(Customer.id))
                        .limit(batch)
                        .with_for_update(skip_locked=True)
                    )
                ).all()
            )
            for customer in rows:
                if returns_to_pool(
                    customer.owner_id, customer.owner_active_at, customer.created_at, as_of, settings.pool_inactive_days
                ):
                    await _unassign(session, customer, as_of, settings.pool_inactive_days)
                    returned += 1
        if len(rows) < batch:
            return returned


async def _unassign(session: AsyncSession, customer: Customer, as_of: datetime, inactive_days: int) -> None:
    previous = customer.owner_id
    customer.owner_id, customer.owner_active_at = None, None
    await announce_updated(session, customer, ["owner_id"], utcnow())
    timeline.record(
        session,
        customer.id,
        "customer.pooled",
        f"Returned to the unowned pool: {previous} logged no activity for {inactive_days} days",
        occurred_at=as_of,
        data={"previous_owner_id": previous, "inactive_days": inactive_days},
    )


async def claim(session: AsyncSession, customer: Customer, owner: str, actor: str) -> bool:
    """Give an unowned customer to ``owner``; False when it is already theirs (a retried claim)."""
    if customer.owner_id == owner:
        return False
    if customer.owner_id is not None:
        raise Conflict(
            f"customer {customer.id} is owned by {customer.owner_id}; only unowned customers "
            "can be claimed (a manager reassigns with PATCH)",
            kind="customer-owned",
            owner_id=customer.owner_id,
        )
    now = utcnow()
    customer.owner_id, customer.owner_active_at = owner, now
    await announce_updated(session, customer, ["owner_id"], now)
    timeline.record(
        session,
        customer.id,
        "customer.claimed",
        f"Claimed from the pool by {owner}" + ("" if actor == owner else f" (assigned by {actor})"),
        occurred_at=now,
        data={"owner_id": owner, "actor": actor},
    )
    return True
