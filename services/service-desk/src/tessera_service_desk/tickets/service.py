"""Ticket use cases: state change and its event in one transaction (flush only)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from tessera_service_desk.custom_fields import CUSTOM_FIELDS
from tessera_service_desk.known_customers.handlers import KNOWN_CUSTOMERS
from tessera_service_desk.settings import ServiceDeskSettings
from tessera_service_desk.sla.service import apply_policy, escalate, refresh_due
from tessera_service_desk.surveys.links import survey_url
from tessera_service_desk.surveys.service import create_survey
from tessera_service_desk.tickets import rules
from tessera_service_desk.tickets.models import TAGS, Ticket, TicketComment, TicketStatusChange
from tessera_service_desk.tickets.repository import TicketRepository
from tessera_service_desk.tickets.schemas import CommentCreate, TicketCreate, TicketPatch
from tessera_shared.auth import Principal
from tessera_shared.events.contracts import TicketChanges, TicketClosed, TicketCommented, TicketOpened, TicketUpdated
from tessera_shared.outbox import publish
from tessera_shared.tags import normalise


async def create_ticket(
    session: AsyncSession,
    data: TicketCreate,
    principal: Principal,
    settings: ServiceDeskSettings,
    now: datetime,
) -> Ticket:
    data.check()
    # Known customers only (docs/domain.md §10.2): one the desk has not heard of yet is read through
    # the customer service and kept (served as an ordinary tier until customer.tier_changed says
    # otherwise); unknown there, merged or erased → 422; unreachable → 503.
    found = await KNOWN_CUSTOMERS.require(session, data.customer_id)
    known = found.row
    tier = known.tier if known else "ordinary"
    custom_fields = await CUSTOM_FIELDS.values(session, "ticket", data.custom_fields, creating=True)
    ticket = Ticket(
        customer_id=data.customer_id,
        contact_id=data.contact_id,
        subject=data.subject,
        description=data.description,
        channel=data.channel,
        category=data.category,
        requested_priority=data.priority,
        priority=rules.starting_priority(data.priority, data.category, tier),
        invoice_id=data.invoice_id,
        assignee_id=data.assignee_id,
        group_name=data.group,
        tags=normalise(data.tags),
        custom_fields=custom_fields,
        service_level=known.service_level if known else "standard",
        tier=tier,
        created_at=now,
        updated_at=now,
    )
    TicketRepository(session).add(ticket)
    await apply_policy(session, ticket)
    await refresh_due(session, ticket, settings, now)
    if ticket.tags:
        await session.flush()  # the row the tag rows refer to
        await TAGS.insert(session, [(ticket.id, ticket.tags)])
    await publish(
        session,
        TicketOpened(
            ticket_id=ticket.id,
            customer_id=ticket.customer_id,
            subject=ticket.subject,
            channel=ticket.channel,
            category=ticket.category,
            priority=ticket.priority,
            invoice_id=ticket.invoice_id,
            tags=ticket.tags,
            custom_fields=ticket.custom_fields,
            opened_at=now,
        ),
        subject=ticket.customer_id,
    )
    return ticket


def _reopen_window(settings: ServiceDeskSettings) -> timedelta:
    return timedelta(hours=settings.reopen_window_hours)


async def change_status(
    session: AsyncSession, ticket: Ticket, to_status: str, actor: str, settings: ServiceDeskSettings, now: datetime
) -> None:
    if to_status == ticket.status:
        return
    rules.check_transition(
        ticket.status, to_status, solved_at=ticket.solved_at, now=now, reopen_window=_reopen_window(settings)
    )
    session.add(
        TicketStatusChange(ticket_id=ticket.id, from_status=ticket.status, to_status=to_status, actor=actor, at=now)
    )
    if ticket.status == "solved" and to_status == "open":
        ticket.reopened_count += 1
        ticket.solved_at = None
    ticket.status = to_status
    if to_status == "solved":
        ticket.solved_at = now
    if to_status == "closed":
        ticket.closed_at = now
        ticket.solved_at = ticket.solved_at or now
        survey = await create_survey(session, ticket, now)
        await publish(
            session,
            TicketClosed(
                ticket_id=ticket.id,
                customer_id=ticket.customer_id,
                category=ticket.category,
                priority=ticket.priority,
                invoice_id=ticket.invoice_id,
                sla_breached=ticket.sla_breached,
                opened_at=ticket.created_at,
                closed_at=now,
                survey_id=survey.id,
                survey_url=survey_url(settings, survey.id),
            ),
            subject=ticket.customer_id,
        )


def _announced(ticket: Ticket) -> dict[str, object]:
    """What ticket.updated tells of a ticket."""
    return {
        "subject": ticket.subject,
        "description": ticket.description,
        "priority": ticket.priority,
        "status": ticket.status,
        "contact_id": ticket.contact_id,
        "assignee_id": ticket.assignee_id,
        "group": ticket.group_name,
        "tags": ticket.tags,
        "custom_fields": ticket.custom_fields,
    }


async def _announce_changes(
    session: AsyncSession, ticket: Ticket, before: dict[str, object], by: str, now: datetime
) -> None:
    """ticket.updated with the fields that differ from ``before``; none when nothing did. A move to
    closed is ticket.closed's."""
    changed = {name: value for name, value in _announced(ticket).items() if value != before[name]}
    if changed.get("status") == "closed":
        del changed["status"]
    if changed:
        await publish(
            session,
            TicketUpdated(
                ticket_id=ticket.id,
                customer_id=ticket.customer_id,
                changes=TicketChanges.model_validate(changed),
                version=ticket.version,
                updated_by=by,
                updated_at=now,
            ),
            subject=ticket.customer_id,
        )


async def update_ticket(
    session: AsyncSession,
    ticket: Ticket,
    patch: TicketPatch,
    principal: Principal,
    settings: ServiceDeskSettings,
    now: datetime,
) -> Ticket:
    patch.check()
    fields = patch.model_fields_set
    rules.check_changeable(ticket.status, patch.status)
    before = _announced(ticket)
    for name in ("subject", "description", "contact_id", "assignee_id"):
        if name in fields:
            setattr(ticket, name, getattr(patch, name))
    if "group" in fields:
        ticket.group_name = patch.group
    if "custom_fields" in fields:
        # Merged into the ticket's values (null clears a key); a new dict (not mutation-tracked).
        ticket.custom_fields = await CUSTOM_FIELDS.values(
            session, "ticket", patch.custom_fields, ticket.custom_fields, creating=False, record_id=ticket.id
        )
    if "tags" in fields and patch.tags is not None and normalise(patch.tags) != ticket.tags:
        ticket.tags = normalise(patch.tags)
        await TAGS.set(session, ticket.id, ticket.tags)
    # check() refused a null priority or status, so a field that was sent is set.
    if "priority" in fields and patch.priority is not None and patch.priority != ticket.priority:
        ticket.priority = patch.priority
        await apply_policy(session, ticket)
    if "status" in fields and patch.status is not None:
        await change_status(session, ticket, patch.status, principal.subject, settings, now)
    await refresh_due(session, ticket, settings, now)
    ticket.version += 1
    ticket.updated_at = now
    await _announce_changes(session, ticket, before, principal.subject, now)
    return ticket


async def add_comment(
    session: AsyncSession,
    ticket: Ticket,
    data: CommentCreate,
    principal: Principal,
    settings: ServiceDeskSettings,
    now: datetime,
) -> TicketComment:
    data.check()
    rules.check_comment(ticket.status)
    before = _announced(ticket)
    comment = TicketComment(
        ticket_id=ticket.id,
        author_id=principal.subject,
        author_kind=data.author_kind,
        public=data.public,
        body=data.body,
        created_at=now,
    )
    session.add(comment)
    if data.public and data.author_kind == "agent":
        ticket.public_reply_count += 1
        # The first public agent reply is the first response; any public reply answers the customer.
        ticket.first_response_at = ticket.first_response_at or now
        ticket.awaiting_reply_since = None
        ticket.breached_metrics = [m for m in ticket.breached_metrics if m != "next_response"]
        if ticket.status == "new":
            await change_status(session, ticket, "open", principal.subject, settings, now)
    elif data.author_kind == "customer":
        if ticket.first_response_at is not None and ticket.awaiting_reply_since is None:
            ticket.awaiting_reply_since = now
        if ticket.status == "pending":
            # The customer answered: the ticket is back with the desk and its clock runs again.
            await change_status(session, ticket, "open", principal.subject, settings, now)
    await refresh_due(session, ticket, settings, now)
    ticket.version += 1
    ticket.updated_at = now
    await session.flush()
    # The comment, without its text; a status it moved (new -> open, pending -> open) beside it.
    await publish(
        session,
        TicketCommented(
            ticket_id=ticket.id,
            customer_id=ticket.customer_id,
            comment_id=comment.id,
            author_kind=comment.author_kind,
            public=comment.public,
            commented_at=now,
        ),
        subject=ticket.customer_id,
    )
    await _announce_changes(session, ticket, before, principal.subject, now)
    return comment


async def escalate_by_hand(
    session: AsyncSession, ticket: Ticket, reason: str, settings: ServiceDeskSettings, now: datetime
) -> None:
    """Escalate by hand: only an open ticket; the next tier is notified."""
    rules.check_escalation(ticket.status)
    await escalate(session, ticket, reason, settings, now)
