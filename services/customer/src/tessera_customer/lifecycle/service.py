"""Applying lifecycle transitions: audit row, event and timeline in the caller's transaction."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from tessera_customer.customers.models import Customer
from tessera_customer.lifecycle.models import StatusChange
from tessera_customer.lifecycle.rules import BUYING, can_transition, check_transition, is_churned
from tessera_customer.settings import CustomerSettings
from tessera_customer.timeline import service as timeline
from tessera_shared.db import unit_of_work, utcnow
from tessera_shared.events.contracts import CustomerStatusChanged
from tessera_shared.outbox import outbox_row, publish


async def transition(
    session: AsyncSession,
    customer: Customer,
    to_status: str,
    *,
    reason: str,
    at: datetime | None = None,
    actor: str | None = None,
    note: str | None = None,
    announce: list[dict[str, Any]] | None = None,
) -> None:
    """Move ``customer`` to ``to_status``; the event is published at once, or, with ``announce``
    (a run's list, published in one INSERT at its end), added to it."""
    if not can_transition(customer.status, to_status):
        raise ValueError(f"{customer.status} -> {to_status} is not a lifecycle edge")  # callers check first
    at = at or utcnow()
    from_status, customer.status = customer.status, to_status
    customer.version += 1
    customer.updated_at = utcnow()
    session.add(
        StatusChange(
            customer_id=customer.id,
            from_status=from_status,
            to_status=to_status,
            reason=reason,
            actor=actor,
            note=note,
            changed_at=at,
        )
    )
    changed = CustomerStatusChanged(
        customer_id=customer.id,
        from_status=from_status,
        to_status=to_status,
        reason=reason,
        actor=actor,
        changed_at=at,
    )
    if announce is None:
        await publish(session, changed, subject=customer.id)
    else:
        announce.append(outbox_row(changed, subject=customer.id))
    timeline.record(
        session,
        customer.id,
        "customer.status_changed",
        f"Status {from_status} → {to_status} ({reason})",
        occurred_at=at,
        data={"from_status": from_status, "to_status": to_status, "reason": reason, "actor": actor},
    )


async def churn_customers(
    sessions: async_sessionmaker[AsyncSession], settings: CustomerSettings, as_of: datetime, batch: int = 500
) -> list[str]:
    """Move buying customers with no purchase inside the churn window to churned; returns their ids."""
    cutoff = as_of - timedelta(days=settings.churn_window_days)
    churned: list[str] = []
    while True:
        async with unit_of_work(sessions) as session:
            rows = list(
                (
                    await session.scalars(
                        select(Customer)
                        .where(
                            col(Customer.status).in_(sorted(BUYING)),
                            col(Customer.merged_into_id).is_(None),
                            col(Customer.last_purchase_at) <= cutoff,
                        )
                        .order_by(col(Customer.id))
                        .limit(batch)
                        .with_for_update(skip_locked=True)
                    )
                ).all()
            )
            for customer in rows:
                if is_churned(customer.status, customer.last_purchase_at, as_of, settings.churn_window_days):
                    await transition(session, customer, "churned", reason="churn_window", at=as_of)
                    churned.append(str(customer.id))
        if len(rows) < batch:
            return churned


async def status_history(session: AsyncSession, customer_id: uuid.UUID) -> Sequence[StatusChange]:
    """The customer's latest 100 status changes, newest first."""
    return (
        await session.scalars(
            select(StatusChange)
            .where(col(StatusChange.customer_id) == customer_id)
            .order_by(col(StatusChange.changed_at).desc(), col(StatusChange.id).desc())
            .limit(100)
        )
    ).all()


async def apply_status_override(
    session: AsyncSession, customer: Customer, status: str, *, actor: str, note: str
) -> None:
    """An admin's move along an edge of the machine (409 ``invalid-transition`` off it), flushed in the
    caller's transaction."""
    check_transition(customer.status, status)
    await transition(session, customer, status, reason="manual_override", actor=actor, note=note)
    await session.flush()
