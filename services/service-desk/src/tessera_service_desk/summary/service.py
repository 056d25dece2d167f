"""The reads behind the service summary (one customer, inside the caller's snapshot).

Which tickets are open comes from the ticket rules (tickets/rules.py).
"""

from __future__ import annotations

import uuid

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from tessera_service_desk.surveys.models import Survey
from tessera_service_desk.tickets.models import Ticket
from tessera_service_desk.tickets.rules import OPEN_STATUSES


async def open_tickets(session: AsyncSession, customer_id: uuid.UUID, limit: int) -> list[Ticket]:
    """The customer's open tickets in id order, at most ``limit``."""
    stmt = (
        select(Ticket)
        .where(col(Ticket.customer_id) == customer_id, col(Ticket.status).in_(sorted(OPEN_STATUSES)))
        .order_by(col(Ticket.id))
        .limit(limit)
    )
    return list((await session.execute(stmt)).scalars())


async def recent_tickets(session: AsyncSession, customer_id: uuid.UUID, limit: int) -> list[Ticket]:
    """The customer's most recently updated tickets, any status."""
    stmt = (
        select(Ticket)
        .where(col(Ticket.customer_id) == customer_id)
        .order_by(col(Ticket.updated_at).desc(), col(Ticket.id).desc())
        .limit(limit)
    )
    return list((await session.execute(stmt)).scalars())


async def escalated_count(session: AsyncSession, customer_id: uuid.UUID) -> int:
    """How many of the customer's tickets were ever escalated (the level only goes up)."""
    stmt = (
        select(func.count())
        .select_from(Ticket)
        .where(col(Ticket.customer_id) == customer_id, col(Ticket.escalation_level) > 0)
    )
    return int((await session.execute(stmt)).scalar_one())


async def last_csat(session: AsyncSession, customer_id: uuid.UUID) -> int | None:
    """The CSAT of the customer's latest answered survey (what survey.answered last said)."""
    stmt = (
        select(col(Survey.csat))
        .where(col(Survey.customer_id) == customer_id, col(Survey.answered_at).is_not(None))
        .order_by(col(Survey.answered_at).desc(), col(Survey.id).desc())
        .limit(1)
    )
    return (await session.execute(stmt)).scalar_one_or_none()
