"""The retention report's counts, read from the status history and the customers' value."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import Select, and_, distinct, exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlmodel import col

from tessera_customer.customers.models import Customer
from tessera_customer.lifecycle.models import StatusChange
from tessera_customer.reports.rules import ACTIVE


@dataclass(frozen=True)
class RetentionCounts:
    active_at_start: int
    active_at_end: int
    acquired: int
    churned: int
    monetary_at_end: list[Decimal]  # the lifetime value of each customer active at the end


def _active_at(moment: datetime) -> Select[uuid.UUID]:
    """Customers whose latest status change up to ``moment`` left them active."""
    later = aliased(StatusChange)
    newer = exists().where(
        and_(
            col(later.customer_id) == col(StatusChange.customer_id),
            col(later.changed_at) <= moment,
            col(later.changed_at) > col(StatusChange.changed_at),
        )
    )
    return select(col(StatusChange.customer_id)).where(
        col(StatusChange.changed_at) <= moment, col(StatusChange.to_status).in_(ACTIVE), ~newer
    )


async def retention_counts(session: AsyncSession, from_: datetime, to: datetime) -> RetentionCounts:
    at_start = _active_at(from_).subquery()
    at_end = _active_at(to).subquery()
    start_n = await session.scalar(select(func.count()).select_from(at_start))
    end_n = await session.scalar(select(func.count()).select_from(at_end))
    acquired = await session.scalar(
        select(func.count(distinct(col(StatusChange.customer_id)))).where(
            col(StatusChange.to_status) == "first_time",
            col(StatusChange.changed_at) >= from_,
            col(StatusChange.changed_at) < to,
        )
    )
    churned = await session.scalar(
        select(func.count(distinct(col(StatusChange.customer_id)))).where(
            col(StatusChange.to_status) == "churned",
            col(StatusChange.changed_at) >= from_,
            col(StatusChange.changed_at) < to,
        )
    )
    values = await session.execute(
        select(col(Customer.monetary)).where(col(Customer.id).in_(select(at_end.c.customer_id)))
    )
    return RetentionCounts(
        active_at_start=start_n or 0,
        active_at_end=end_n or 0,
        acquired=acquired or 0,
        churned=churned or 0,
        monetary_at_end=[v for (v,) in values],
    )
