"""Report queries: aggregates computed by the database, portable across PostgreSQL and SQLite."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, SQLColumnExpression, and_, case, exists, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from tessera_service_desk.sla.models import SlaBreach
from tessera_service_desk.surveys.models import Survey
from tessera_service_desk.tickets.models import Ticket
from tessera_service_desk.tickets.rules import OPEN_STATUSES
from tessera_shared.db import dialect_name

AGE_BUCKETS = (("0-1d", 1), ("1-3d", 3), ("3-7d", 7))


def pct(part: int, whole: int) -> float | None:
    return round(100.0 * part / whole, 2) if whole else None


async def backlog(session: AsyncSession, as_of: datetime) -> list[tuple[str, str, int]]:
    whens = [(col(Ticket.created_at) > as_of - timedelta(days=days), literal(name)) for name, days in AGE_BUCKETS]
    bucket = case(*whens, else_=literal("7d+")).label("bucket")
    stmt = (
        select(col(Ticket.priority), bucket, func.count())
        .where(col(Ticket.status).in_(OPEN_STATUSES), col(Ticket.created_at) <= as_of)
        .group_by(col(Ticket.priority), bucket)
    )
    return [(p, b, int(n)) for p, b, n in await session.execute(stmt)]


async def compliance(session: AsyncSession, start: datetime, end: datetime) -> list[tuple[str, int, int]]:
    breached = exists().where(col(SlaBreach.ticket_id) == col(Ticket.id))
    stmt = (
        select(col(Ticket.priority), func.count(), func.sum(case((breached, 0), else_=1)))
        .where(
            col(Ticket.solved_at) >= start, col(Ticket.solved_at) < end, col(Ticket.status).in_(("solved", "closed"))
        )
        .group_by(col(Ticket.priority))
    )
    return [(p, int(n), int(ok or 0)) for p, n, ok in await session.execute(stmt)]


def _period(session: AsyncSession, column: SQLColumnExpression[Any], period: str) -> ColumnElement[str]:
    if dialect_name(session) == "postgresql":
        return func.to_char(func.date_trunc(period, func.timezone("UTC", column)), "YYYY-MM-DD")
    if period == "day":
        return func.strftime("%Y-%m-%d", column)
    if period == "week":
        return func.date(column, "weekday 0", "-6 days")  # the Monday of the week
    return func.strftime("%Y-%m-01", column)


async def satisfaction(
    session: AsyncSession, start: datetime, end: datetime, group_by: str, period: str
) -> list[tuple[Any, ...]]:
    column = {"agent": col(Survey.agent_id), "category": col(Survey.category)}.get(group_by)
    key = (column if column is not None else _period(session, col(Survey.answered_at), period)).label("key")
    stmt = (
        select(
            key,
            func.count(),
            func.avg(col(Survey.csat)),
            func.sum(case((col(Survey.csat) >= 4, 1), else_=0)),
            func.count(col(Survey.nps)),
            func.sum(case((col(Survey.nps) >= 9, 1), else_=0)),
            func.sum(case((col(Survey.nps) <= 6, 1), else_=0)),
        )
        .where(col(Survey.answered_at) >= start, col(Survey.answered_at) < end)
        .group_by(key)
        .order_by(key)
    )
    return list(await session.execute(stmt))


async def first_contact_resolution(session: AsyncSession, start: datetime, end: datetime) -> list[tuple[str, int, int]]:
    first_contact = and_(col(Ticket.public_reply_count) <= 1, col(Ticket.reopened_count) == 0)
    stmt = (
        select(col(Ticket.category), func.count(), func.sum(case((first_contact, 1), else_=0)))
        .where(
            col(Ticket.solved_at) >= start, col(Ticket.solved_at) < end, col(Ticket.status).in_(("solved", "closed"))
        )
        .group_by(col(Ticket.category))
        .order_by(col(Ticket.category))
    )
    return [(c, int(n), int(f or 0)) for c, n, f in await session.execute(stmt)]
