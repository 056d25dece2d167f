"""Scheduled jobs of the desk (each also runnable on demand with an ``as_of`` clock)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from tessera_service_desk.settings import ServiceDeskSettings
from tessera_service_desk.sla.service import refresh_due, scan_breaches
from tessera_service_desk.tickets.models import Ticket
from tessera_service_desk.tickets.service import change_status
from tessera_shared.db import dialect_name, unit_of_work
from tessera_shared.jobs import Job

BATCH = 200


async def auto_close_solved(
    sessions: async_sessionmaker[AsyncSession], now: datetime, settings: ServiceDeskSettings
) -> int:
    """Solved tickets past the delay are closed: that sends their survey and ticket.closed."""
    cutoff = now - timedelta(hours=settings.auto_close_after_hours)
    closed = 0
    while True:
        async with unit_of_work(sessions) as session:
            stmt = (
                select(Ticket)
                .where(col(Ticket.status) == "solved", col(Ticket.solved_at) <= cutoff)
                .order_by(col(Ticket.id))
                .limit(BATCH)
            )
            if dialect_name(session) == "postgresql":
                stmt = stmt.with_for_update(skip_locked=True)
            tickets = list((await session.execute(stmt)).scalars())
            for ticket in tickets:
                await change_status(session, ticket, "closed", "system:auto-close", settings, now)
                await refresh_due(session, ticket, settings, now)
                ticket.version += 1
                ticket.updated_at = now
                closed += 1
        if len(tickets) < BATCH:
            return closed


def desk_jobs(settings: ServiceDeskSettings) -> list[Job]:
    return [
        Job(
            "service-desk-sla-breaches",
            settings.breach_job_interval_seconds,
            lambda sessions, now: scan_breaches(sessions, now, settings),
        ),
        Job("service-desk-auto-close", 3600, lambda sessions, now: auto_close_solved(sessions, now, settings)),
    ]
