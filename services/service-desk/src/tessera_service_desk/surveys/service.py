"""Satisfaction surveys: one per closed ticket, answered once through its token link."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from tessera_service_desk.surveys.models import Survey
from tessera_service_desk.surveys.rules import AlreadyAnswered
from tessera_shared.db import affected_rows
from tessera_shared.events.contracts import SurveyAnswered
from tessera_shared.outbox import publish

if TYPE_CHECKING:
    from tessera_service_desk.tickets.models import Ticket


async def find_survey(session: AsyncSession, survey_id: uuid.UUID) -> Survey | None:
    return await session.get(Survey, survey_id)


async def create_survey(session: AsyncSession, ticket: Ticket, now: datetime) -> Survey:
    """Called in the closing transaction: the survey exists exactly when the ticket is closed."""
    existing = (await session.execute(select(Survey).where(col(Survey.ticket_id) == ticket.id))).scalar_one_or_none()
    if existing is not None:
        return existing
    survey = Survey(
        ticket_id=ticket.id,
        customer_id=ticket.customer_id,
        agent_id=ticket.assignee_id,
        category=ticket.category,
        created_at=now,
    )
    session.add(survey)
    return survey


async def answer_survey(
    session: AsyncSession, survey: Survey, *, csat: int, nps: int | None, comment: str | None, now: datetime
) -> Survey:
    # A conditional update: two concurrent answers cannot both win.
    answered = await affected_rows(
        session,
        update(Survey)
        .where(col(Survey.id) == survey.id, col(Survey.answered_at).is_(None))
        .values(csat=csat, nps=nps, comment=comment, answered_at=now),
    )
    if answered != 1:
        raise AlreadyAnswered("this survey was already answered")
    await session.refresh(survey)
    await publish(
        session,
        SurveyAnswered(
            survey_id=survey.id,
            ticket_id=survey.ticket_id,
            customer_id=survey.customer_id,
            csat=csat,
            nps=nps,
            comment=comment,
            answered_at=now,
        ),
        subject=survey.customer_id,
    )
    return survey
