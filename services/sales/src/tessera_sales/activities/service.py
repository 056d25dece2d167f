"""Activity use cases, the reminder job and collection tasks (flush only; the caller commits)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from tessera_sales.activities import rules
from tessera_sales.activities.models import Activity
from tessera_sales.activities.schemas import ActivityCreate, ActivityPatch
from tessera_sales.deals.models import Deal
from tessera_sales.known_customers.handlers import KNOWN_CUSTOMERS
from tessera_sales.leads.models import Lead
from tessera_sales.leads.service import rescore
from tessera_sales.ownership import may_see, owner_for_new
from tessera_shared.auth import OwnerScope, Principal
from tessera_shared.db import dialect_name, unit_of_work, utcnow
from tessera_shared.errors import InvalidInput, NotFound
from tessera_shared.events.contracts import ActivityChanges, ActivityDue, ActivityLogged, ActivityUpdated
from tessera_shared.http.pagination import PageParams, paginate
from tessera_shared.outbox import publish

REMINDER_BATCH = 500


def _subject_of(activity: Activity) -> uuid.UUID:
    # Key by customer so the fact lands in that customer's order; a lead-only activity keys by lead.
    return activity.customer_id or activity.lead_id or activity.deal_id or activity.id


async def record(session: AsyncSession, activity: Activity) -> Activity:
    """Store an activity, count it as engagement of its lead, and publish activity.logged."""
    session.add(activity)
    if activity.lead_id is not None:
        lead = await session.get(Lead, activity.lead_id)
        if lead is not None:
            lead.engagement_count += 1
            rescore(lead)
    await session.flush()
    await publish(
        session,
        ActivityLogged(
            activity_id=activity.id,
            kind=activity.kind,
            subject=activity.subject,
            customer_id=activity.customer_id,
            contact_id=activity.contact_id,
            lead_id=activity.lead_id,
            deal_id=activity.deal_id,
            owner_id=activity.owner_id,
            occurred_at=activity.occurred_at,
        ),
        subject=_subject_of(activity),
    )
    return activity


async def log_activity(session: AsyncSession, data: ActivityCreate, principal: Principal) -> Activity:
    if not any((data.customer_id, data.contact_id, data.lead_id, data.deal_id)):
        raise InvalidInput("customer_id", "give at least one of customer_id, contact_id, lead_id, deal_id")
    if (problem := rules.check_schedule(data.due_at, data.remind_at)) is not None:
        raise InvalidInput("remind_at", problem)
    customer_id = data.customer_id
    if data.deal_id is not None:
        deal = await session.get(Deal, data.deal_id)
        if deal is None or not may_see(principal, deal.owner_id, deal.team_id):
            raise InvalidInput("deal_id", "no such deal")
        if customer_id not in (None, deal.customer_id):
            raise InvalidInput("customer_id", "the deal belongs to another customer")
        customer_id = deal.customer_id
    if data.lead_id is not None:
        lead = await session.get(Lead, data.lead_id)
        if lead is None or not may_see(principal, lead.owner_id, lead.team_id):
            raise InvalidInput("lead_id", "no such lead")
        customer_id = customer_id or lead.customer_id
    if data.customer_id is not None:  # named by the caller; a deal's or a lead's was checked when made
        await KNOWN_CUSTOMERS.require(session, data.customer_id)
    now = utcnow()
    return await record(
        session,
        Activity(
            kind=data.kind,
            subject=data.subject,
            notes=data.notes,
            customer_id=customer_id,
            contact_id=data.contact_id,
            lead_id=data.lead_id,
            deal_id=data.deal_id,
            owner_id=owner_for_new(principal, data.owner_id),
            occurred_at=data.occurred_at or now,
            due_at=data.due_at,
            remind_at=data.remind_at,
            created_by=principal.subject,
            created_at=now,
            updated_at=now,
        ),
    )


async def get_activity(session: AsyncSession, activity_id: uuid.UUID, principal: Principal) -> Activity:
    """The activity, if the principal may see it (404 otherwise)."""
    activity = await session.get(Activity, activity_id)
    if activity is None or not may_see(principal, activity.owner_id):
        # The same answer for missing and not-yours: a rep learns nothing about others' records.
        raise NotFound("activity", activity_id)
    return activity


async def list_activities(
    session: AsyncSession,
    page: PageParams,
    *,
    owner_id: OwnerScope | None,
    customer_id: uuid.UUID | None,
    lead_id: uuid.UUID | None,
    deal_id: uuid.UUID | None,
    kind: str | None,
    open: bool | None,
) -> tuple[list[Activity], str | None]:
    """One page of activities matching the filters (``owner_id`` already scoped by the caller)."""
    stmt = select(Activity)
    if owner_id:
        stmt = stmt.where(owner_id.clause(col(Activity.owner_id)))
    for column, value in (
        (col(Activity.customer_id), customer_id),
        (col(Activity.lead_id), lead_id),
        (col(Activity.deal_id), deal_id),
        (col(Activity.kind), kind),
    ):
        if value is not None:
            stmt = stmt.where(column == value)
    if open is not None:
        stmt = stmt.where(col(Activity.completed_at).is_(None) if open else col(Activity.completed_at).is_not(None))
    return await paginate(session, stmt, page, (col(Activity.id),))


def _announced(activity: Activity) -> dict[str, object]:
    """What activity.updated tells of an activity."""
    return {
        "subject": activity.subject,
        "notes": activity.notes,
        "due_at": activity.due_at,
        "remind_at": activity.remind_at,
        "completed": activity.completed_at is not None,
    }


async def update_activity(session: AsyncSession, activity: Activity, patch: ActivityPatch, by: str) -> None:
    given = patch.model_fields_set
    before = _announced(activity)
    if "subject" in given and patch.subject is None:
        raise InvalidInput("subject", "may not be null")
    due_at = patch.due_at if "due_at" in given else activity.due_at
    remind_at = patch.remind_at if "remind_at" in given else activity.remind_at
    if (problem := rules.check_schedule(due_at, remind_at)) is not None:
        raise InvalidInput("remind_at", problem)
    if "remind_at" in given and patch.remind_at != activity.remind_at:
        activity.reminded_at = None  # a new reminder time fires again
    for field in ("subject", "notes", "due_at", "remind_at"):
        if field in given:
            setattr(activity, field, getattr(patch, field))
    if "completed" in given and patch.completed is not None:
        activity.completed_at = (activity.completed_at or utcnow()) if patch.completed else None
    activity.version += 1
    activity.updated_at = utcnow()
    after = _announced(activity)
    changed = {name: value for name, value in after.items() if value != before[name]}
    if changed:
        await publish(
            session,
            ActivityUpdated(
                activity_id=activity.id,
                kind=activity.kind,
                customer_id=activity.customer_id,
                lead_id=activity.lead_id,
                deal_id=activity.deal_id,
                owner_id=activity.owner_id,
                changes=ActivityChanges.model_validate(changed),
                version=activity.version,
                updated_by=by,
                updated_at=activity.updated_at,
            ),
            subject=_subject_of(activity),
        )
    await session.flush()


async def overdue_by_owner(session: AsyncSession, as_of: datetime, owner_id: OwnerScope | None) -> list[tuple]:
    stmt = (
        select(col(Activity.owner_id), func.count(), func.min(col(Activity.due_at)))
        .where(col(Activity.kind) == "task", col(Activity.completed_at).is_(None), col(Activity.due_at) < as_of)
        .group_by(col(Activity.owner_id))
        .order_by(func.count().desc(), col(Activity.owner_id))
    )
    if owner_id is not None:
        stmt = stmt.where(owner_id.clause(col(Activity.owner_id)))
    return list((await session.execute(stmt)).all())


async def fire_reminders(sessions: async_sessionmaker[AsyncSession], now: datetime) -> int:
    """activity.due once per reminder whose time has come; batches keep each transaction short."""
    fired = 0
    while True:
        async with unit_of_work(sessions) as session:
            stmt = (
                select(Activity)
                .where(
                    col(Activity.remind_at) <= now,
                    col(Activity.reminded_at).is_(None),
                    col(Activity.completed_at).is_(None),
                )
                .order_by(col(Activity.remind_at), col(Activity.id))
                .limit(REMINDER_BATCH)
            )
            if dialect_name(session) == "postgresql":
                stmt = stmt.with_for_update(skip_locked=True)
            batch = list((await session.execute(stmt)).scalars())
            for activity in batch:
                if not rules.reminder_due(activity.remind_at, activity.reminded_at, activity.completed_at, now):
                    continue
                activity.reminded_at = now
                await publish(
                    session,
                    ActivityDue(
                        activity_id=activity.id,
                        subject=activity.subject,
                        customer_id=activity.customer_id,
                        owner_id=activity.owner_id,
                        due_at=activity.due_at,
                        remind_at=activity.remind_at,
                    ),
                    subject=_subject_of(activity),
                )
                fired += 1
        if len(batch) < REMINDER_BATCH:
            return fired
