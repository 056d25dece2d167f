from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from tessera_notifications.event_types import refuse_unknown
from tessera_notifications.routing import forget_rules
from tessera_notifications.rules.models import NotificationRule
from tessera_notifications.rules.schemas import RuleChange, RuleCreate
from tessera_shared.db import utcnow
from tessera_shared.errors import NotFound
from tessera_shared.events.contracts.notifications import (
    NotificationRuleCreated,
    NotificationRuleDeleted,
    NotificationRuleUpdated,
)
from tessera_shared.http.pagination import PageParams, paginate
from tessera_shared.outbox import publish


async def page_of_rules(
    session: AsyncSession, params: PageParams, event_type: str | None
) -> tuple[list[NotificationRule], str | None]:
    stmt = select(NotificationRule)
    if event_type is not None:
        stmt = stmt.where(col(NotificationRule.event_type) == event_type)
    return await paginate(session, stmt, params, (col(NotificationRule.id),))


async def find_rule(session: AsyncSession, rule_id: uuid.UUID, *, for_update: bool = False) -> NotificationRule:
    rule = await session.get(NotificationRule, rule_id, with_for_update=for_update)
    if rule is None:
        raise NotFound("notification rule", rule_id)
    return rule


async def create_rule(session: AsyncSession, body: RuleCreate, actor: str) -> NotificationRule:
    refuse_unknown("event_type", [body.event_type])  # a rule for no published type would never match
    rule = NotificationRule(**body.model_dump(mode="json"))
    session.add(rule)
    await session.flush()
    forget_rules()
    await publish(
        session,
        NotificationRuleCreated(
            rule_id=rule.id,
            name=rule.name,
            rule_event_type=rule.event_type,
            condition=rule.condition,
            recipients=rule.recipients,
            channels=rule.channels,
            enabled=rule.enabled,
            version=rule.version,
            created_by=actor,
            created_at=rule.created_at,
        ),
        subject=rule.id,
    )
    return rule


async def change_rule(session: AsyncSession, rule: NotificationRule, body: RuleChange, actor: str) -> NotificationRule:
    """Apply the fields ``body`` names; the ones whose value moved are announced (none: nothing)."""
    asked = body.model_dump(mode="json", exclude_unset=True)
    changes = {k: v for k, v in asked.items() if v is not None and getattr(rule, k) != v}
    if changes:
        for name, value in changes.items():
            setattr(rule, name, value)
        rule.version += 1
        rule.updated_at = utcnow()
        await session.flush()
        forget_rules()
        await publish(
            session,
            NotificationRuleUpdated(
                rule_id=rule.id,
                rule_event_type=rule.event_type,
                changes=changes,
                version=rule.version,
                updated_by=actor,
                updated_at=rule.updated_at,
            ),
            subject=rule.id,
        )
    return rule


async def delete_rule(session: AsyncSession, rule: NotificationRule, actor: str) -> None:
    await session.delete(rule)
    await session.flush()
    forget_rules()
    await publish(
        session,
        NotificationRuleDeleted(
            rule_id=rule.id, rule_event_type=rule.event_type, deleted_by=actor, deleted_at=utcnow()
        ),
        subject=rule.id,
    )
