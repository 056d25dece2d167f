"""SLA use cases: resolve a ticket's policy, rebuild its clock, detect and escalate breaches."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from tessera_service_desk.known_customers.models import KnownCustomer
from tessera_service_desk.settings import ServiceDeskSettings
from tessera_service_desk.sla import rules
from tessera_service_desk.sla.calendar import BusinessCalendar
from tessera_service_desk.sla.models import EscalationNotification, SlaBreach, SlaPolicy
from tessera_service_desk.tickets.models import Ticket, TicketStatusChange
from tessera_service_desk.tickets.rules import OPEN_STATUSES
from tessera_shared.db import dialect_name, unit_of_work, utcnow
from tessera_shared.errors import Conflict
from tessera_shared.events.contracts import SlaBreached, TicketEscalated
from tessera_shared.http.pagination import PageParams, paginate
from tessera_shared.outbox import publish


def policy_row(p: SlaPolicy) -> rules.PolicyRow:
    return rules.PolicyRow(
        p.priority,
        p.service_level,
        p.tier,
        rules.Targets(p.first_response_minutes, p.next_response_minutes, p.resolution_minutes),
        p.business_hours,
    )


async def apply_policy(session: AsyncSession, ticket: Ticket) -> None:
    """Copy the most specific policy's targets onto the ticket (the clock reads them there)."""
    rows = (await session.execute(select(SlaPolicy).where(col(SlaPolicy.priority) == ticket.priority))).scalars()
    chosen = rules.select_policy([policy_row(p) for p in rows], ticket.priority, ticket.service_level, ticket.tier)
    ticket.first_response_minutes = chosen.targets.first_response
    ticket.next_response_minutes = chosen.targets.next_response
    ticket.resolution_minutes = chosen.targets.resolution
    ticket.business_hours = chosen.business_hours


def calendar_for(ticket: Ticket, settings: ServiceDeskSettings) -> BusinessCalendar:
    return settings.calendar() if ticket.business_hours else BusinessCalendar.always_open()


def targets_of(ticket: Ticket) -> rules.Targets:
    return rules.Targets(ticket.first_response_minutes, ticket.next_response_minutes, ticket.resolution_minutes)


async def status_changes(session: AsyncSession, ticket_id: object) -> list[rules.StatusChange]:
    rows = await session.execute(
        select(col(TicketStatusChange.at), col(TicketStatusChange.to_status))
        .where(col(TicketStatusChange.ticket_id) == ticket_id)
        .order_by(col(TicketStatusChange.at), col(TicketStatusChange.id))
    )
    return [rules.StatusChange(at, to) for at, to in rows]


def clock_of(
    ticket: Ticket, changes: list[rules.StatusChange], settings: ServiceDeskSettings, now: datetime
) -> dict[str, rules.MetricState]:
    inp = rules.ClockInput(
        opened_at=ticket.created_at,
        changes=changes,
        first_response_at=ticket.first_response_at,
        awaiting_reply_since=ticket.awaiting_reply_since,
        solved_at=ticket.solved_at,
        status=ticket.status,
    )
    return rules.clock(targets_of(ticket), inp, calendar_for(ticket, settings), now)


async def ticket_clock(
    session: AsyncSession, ticket: Ticket, settings: ServiceDeskSettings, now: datetime
) -> dict[str, rules.MetricState]:
    return clock_of(ticket, await status_changes(session, ticket.id), settings, now)


async def refresh_due(session: AsyncSession, ticket: Ticket, settings: ServiceDeskSettings, now: datetime) -> None:
    """Recompute the one due time the breach job watches (None while paused or done)."""
    await session.flush()  # status changes of this request take part in the rebuild
    if ticket.status not in OPEN_STATUSES:
        ticket.next_sla_due_at = None
        return
    states = await ticket_clock(session, ticket, settings, now)
    ticket.next_sla_due_at = rules.next_due(states, ticket.breached_metrics)


async def escalate(
    session: AsyncSession, ticket: Ticket, reason: str, settings: ServiceDeskSettings, now: datetime
) -> None:
    """One level up: the next tier is notified (a stored row) and ticket.escalated is published."""
    ticket.escalation_level += 1
    groups = settings.escalation_groups
    group = groups[min(ticket.escalation_level, len(groups)) - 1]
    session.add(
        EscalationNotification(
            ticket_id=ticket.id,
            level=ticket.escalation_level,
            recipient_group=group,
            message=f"ticket {ticket.id} ({ticket.priority}) escalated to level {ticket.escalation_level}: {reason}",
            created_at=now,
        )
    )
    await publish(
        session,
        TicketEscalated(
            ticket_id=ticket.id,
            customer_id=ticket.customer_id,
            level=ticket.escalation_level,
            reason=reason,
            priority=ticket.priority,
            escalated_at=now,
        ),
        subject=ticket.customer_id,
    )
    ticket.version += 1
    ticket.updated_at = now


async def changes_of_many(session: AsyncSession, ticket_ids: list[object]) -> dict[object, list[rules.StatusChange]]:
    """Status histories of a batch of tickets in one query (the breach job's hot path)."""
    out: dict[object, list[rules.StatusChange]] = {tid: [] for tid in ticket_ids}
    if ticket_ids:
        rows = await session.execute(
            select(col(TicketStatusChange.ticket_id), col(TicketStatusChange.at), col(TicketStatusChange.to_status))
            .where(col(TicketStatusChange.ticket_id).in_(ticket_ids))
            .order_by(col(TicketStatusChange.ticket_id), col(TicketStatusChange.at), col(TicketStatusChange.id))
        )
        for tid, at, to in rows:
            out[tid].append(rules.StatusChange(at, to))
    return out


async def escalate_breaches(
    session: AsyncSession,
    ticket: Ticket,
    settings: ServiceDeskSettings,
    now: datetime,
    changes: list[rules.StatusChange] | None = None,
) -> bool:
    """Record each newly breached metric once, raise the level once, tell the next tier."""
    if changes is None:
        changes = await status_changes(session, ticket.id)
    states = clock_of(ticket, changes, settings, now)
    # No flush per event: the batch's rows go to the database together at the commit.
    with session.no_autoflush:
        fresh = [
            s
            for s in states.values()
            if s.state == "breached"
            and s.achieved_at is None
            and s.due_at is not None
            and s.due_at <= now
            and s.metric not in ticket.breached_metrics
        ]
        for state in fresh:
            assert state.due_at is not None  # noqa: S101 - narrows the type only: fresh holds states with a due time
            session.add(
                SlaBreach(
                    ticket_id=ticket.id,
                    customer_id=ticket.customer_id,
                    metric=state.metric,
                    priority=ticket.priority,
                    due_at=state.due_at,
                    breached_at=now,
                )
            )
            await publish(
                session,
                SlaBreached(
                    ticket_id=ticket.id,
                    customer_id=ticket.customer_id,
                    metric=state.metric,
                    priority=ticket.priority,
                    due_at=state.due_at,
                    breached_at=now,
                ),
                subject=ticket.customer_id,
            )
        if fresh:
            ticket.breached_metrics = sorted({*ticket.breached_metrics, *(s.metric for s in fresh)})
            ticket.sla_breached = True
            await escalate(session, ticket, ", ".join(f"{s.metric} SLA breached" for s in fresh), settings, now)
        ticket.next_sla_due_at = (
            rules.next_due(states, ticket.breached_metrics) if ticket.status in OPEN_STATUSES else None
        )
    return bool(fresh)


async def scan_breaches(
    sessions: async_sessionmaker[AsyncSession], now: datetime, settings: ServiceDeskSettings
) -> int:
    """The breach job: tickets whose watched due time has come, in batches, one transaction each."""
    processed = 0
    while True:
        async with unit_of_work(sessions) as session:
            stmt = (
                select(Ticket)
                .where(col(Ticket.next_sla_due_at) <= now)
                .order_by(col(Ticket.next_sla_due_at))
                .limit(settings.breach_batch_size)
            )
            if dialect_name(session) == "postgresql":
                stmt = stmt.with_for_update(skip_locked=True)
            tickets = list((await session.execute(stmt)).scalars())
            histories = await changes_of_many(session, [t.id for t in tickets])
            for ticket in tickets:
                await escalate_breaches(session, ticket, settings, now, histories[ticket.id])
                processed += 1
        if len(tickets) < settings.breach_batch_size:
            return processed


class PolicyExists(Conflict):
    """A policy for this priority, service level and tier exists already (409 ``conflict``)."""

    def __init__(self) -> None:
        super().__init__("a policy for this priority, service level and tier exists; PATCH it")


async def set_service_level(session: AsyncSession, customer_id: uuid.UUID, service_level: str) -> KnownCustomer:
    known = await session.get(KnownCustomer, customer_id)
    if known is None:
        # The customer may not have reached this desk yet; its name follows with customer.created.
        known = KnownCustomer(customer_id=customer_id, name="")
        session.add(known)
    known.service_level = service_level
    known.updated_at = utcnow()
    return known


async def add_policy(session: AsyncSession, policy: SlaPolicy) -> None:
    """Insert the policy in a savepoint; raises PolicyExists when its axes are taken."""
    try:
        async with session.begin_nested():
            session.add(policy)
    except IntegrityError:
        raise PolicyExists() from None


async def page_of_policies(session: AsyncSession, page: PageParams) -> tuple[list[Any], str | None]:
    return await paginate(session, select(SlaPolicy), page, (col(SlaPolicy.id),))


async def find_policy(session: AsyncSession, policy_id: uuid.UUID) -> SlaPolicy | None:
    return await session.get(SlaPolicy, policy_id)


async def remove_policy(session: AsyncSession, policy: SlaPolicy) -> None:
    await session.delete(policy)


async def page_of_notifications(
    session: AsyncSession, page: PageParams, *, group: str | None, ticket_id: uuid.UUID | None
) -> tuple[list[Any], str | None]:
    """Escalation notifications in id order, optionally for one recipient group and/or ticket."""
    stmt = select(EscalationNotification)
    if group is not None:
        stmt = stmt.where(col(EscalationNotification.recipient_group) == group)
    if ticket_id is not None:
        stmt = stmt.where(col(EscalationNotification.ticket_id) == ticket_id)
    return await paginate(session, stmt, page, (col(EscalationNotification.id),))
