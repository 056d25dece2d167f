"""Turning tickets into responses (the clock, the history, the survey link)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from tessera_service_desk.kb.models import KbArticle, KbArticleTicket
from tessera_service_desk.settings import ServiceDeskSettings
from tessera_service_desk.sla.rules import MetricState
from tessera_service_desk.sla.service import ticket_clock
from tessera_service_desk.surveys.links import survey_url
from tessera_service_desk.surveys.models import Survey
from tessera_service_desk.tickets import rules
from tessera_service_desk.tickets.models import Ticket
from tessera_service_desk.tickets.repository import TicketRepository
from tessera_service_desk.tickets.schemas import (
    ArticleRef,
    HistoryItem,
    MetricOut,
    SlaOut,
    TicketDetail,
    TicketOut,
)


def ticket_out(ticket: Ticket, settings: ServiceDeskSettings, now: datetime) -> TicketOut:
    allowed = rules.allowed_transitions(
        ticket.status, solved_at=ticket.solved_at, now=now, reopen_window=timedelta(hours=settings.reopen_window_hours)
    )
    return TicketOut(
        id=ticket.id,
        customer_id=ticket.customer_id,
        contact_id=ticket.contact_id,
        subject=ticket.subject,
        description=ticket.description,
        channel=ticket.channel,
        category=ticket.category,
        priority=ticket.priority,
        requested_priority=ticket.requested_priority,
        status=ticket.status,
        assignee_id=ticket.assignee_id,
        group=ticket.group_name,
        tags=ticket.tags,
        custom_fields=ticket.custom_fields,
        invoice_id=ticket.invoice_id,
        service_level=ticket.service_level,
        tier=ticket.tier,
        escalation_level=ticket.escalation_level,
        first_response_at=ticket.first_response_at,
        solved_at=ticket.solved_at,
        closed_at=ticket.closed_at,
        reopened_count=ticket.reopened_count,
        allowed_transitions=list(allowed),
        created_at=ticket.created_at,
        updated_at=ticket.updated_at,
        version=ticket.version,
    )


def _metric(state: MetricState) -> MetricOut:
    return MetricOut(
        target_minutes=state.target_minutes,
        state=state.state,
        due_at=state.due_at,
        remaining_business_minutes=state.remaining_minutes,
        achieved_at=state.achieved_at,
    )


async def ticket_detail(
    session: AsyncSession, ticket: Ticket, settings: ServiceDeskSettings, now: datetime
) -> TicketDetail:
    states = await ticket_clock(session, ticket, settings, now)
    sla = SlaOut(
        business_hours=ticket.business_hours,
        escalation_level=ticket.escalation_level,
        breached=ticket.sla_breached or any(s.state == "breached" for s in states.values()),
        first_response=_metric(states["first_response"]),
        next_response=_metric(states["next_response"]),
        resolution=_metric(states["resolution"]),
    )
    history = await TicketRepository(session).history(ticket, settings.history_limit)
    survey_id = (
        await session.execute(select(col(Survey.id)).where(col(Survey.ticket_id) == ticket.id))
    ).scalar_one_or_none()
    articles = await session.execute(
        select(col(KbArticle.id), col(KbArticle.title))
        .join(KbArticleTicket, col(KbArticleTicket.article_id) == col(KbArticle.id))
        .where(col(KbArticleTicket.ticket_id) == ticket.id)
        .order_by(col(KbArticleTicket.linked_at))
    )
    return TicketDetail(
        **ticket_out(ticket, settings, now).model_dump(),
        sla=sla,
        history=[HistoryItem.model_validate(t) for t in history],
        survey_id=survey_id,
        solved_by_articles=[ArticleRef(id=i, title=t) for i, t in articles],
        survey_url=survey_url(settings, survey_id) if survey_id else None,
    )
