"""From a consumed fact to notifications: the rules of its type, their recipients, the users'
preferences, one inbox row per user (``seq`` in commit order) and ``notification.sent``."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from tessera_notifications import teams as team_copy
from tessera_notifications.copies.handlers import KNOWN_CUSTOMERS
from tessera_notifications.copies.models import DealCopy, InvoiceCopy, TicketCopy
from tessera_notifications.directory import UserDirectory
from tessera_notifications.email.digest import keep_for_digest
from tessera_notifications.email.service import Outgoing, enqueue
from tessera_notifications.inbox.service import add_notification
from tessera_notifications.inbox.texts import render
from tessera_notifications.metrics import DELIVERY_SECONDS, SENT
from tessera_notifications.preferences.models import Preference
from tessera_notifications.rules.models import NotificationRule
from tessera_notifications.rules.rules import holds
from tessera_notifications.settings import NotificationsSettings
from tessera_shared.db import utcnow
from tessera_shared.db.read_cache import ReadCache
from tessera_shared.events import CloudEvent
from tessera_shared.events.contracts import NotificationSent
from tessera_shared.known_customers import ERASED, UNNAMED
from tessera_shared.outbox import outbox_row, publish_many


@dataclass(frozen=True)
class Routing:
    directory: UserDirectory
    settings: NotificationsSettings

    @property
    def escalation_teams(self) -> tuple[str, ...]:
        return tuple(self.settings.escalation_teams)


def _uuid(value: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value)) if value is not None else None
    except ValueError:
        return None


async def _deal_owner(session: AsyncSession, deal_id: uuid.UUID | None) -> str | None:
    if deal_id is None:
        return None
    return (await session.execute(select(col(DealCopy.owner_id)).where(col(DealCopy.deal_id) == deal_id))).scalar()


async def record_owner(session: AsyncSession, data: Mapping[str, Any]) -> str | None:
    """The owner of the record a fact is about: named in it (a new owner first), else its deal's
    owner (an invoice's deal, from invoice.issued), else the customer's owner."""
    changes = data.get("changes") if isinstance(data.get("changes"), Mapping) else {}
    named = (changes or {}).get("owner_id") or data.get("owner_id")
    if named:
        return str(named)
    owner = await _deal_owner(session, _uuid(data.get("deal_id")))
    if owner is None and (invoice_id := _uuid(data.get("invoice_id"))) is not None:
        deal_id = (
            await session.execute(select(col(InvoiceCopy.deal_id)).where(col(InvoiceCopy.invoice_id) == invoice_id))
        ).scalar()
        owner = await _deal_owner(session, deal_id)
    if owner is None and (customer_id := _uuid(data.get("customer_id"))) is not None:
        found = await KNOWN_CUSTOMERS.known(session, customer_id)
        owner = found.current.owner_id if found.current is not None else None
    return owner


async def _ticket(session: AsyncSession, data: Mapping[str, Any]) -> TicketCopy | None:
    ticket_id = _uuid(data.get("ticket_id"))
    return await session.get(TicketCopy, ticket_id) if ticket_id is not None else None


async def recipients_of(
    session: AsyncSession, recipients: list[dict[str, Any]], data: Mapping[str, Any], routing: Routing
) -> list[str]:
    users: list[str] = []
    directory = routing.directory
    for recipient in recipients:
        kind, value = recipient.get("kind"), recipient.get("value")
        if kind == "role" and value:
            users += directory.with_role(str(value))
        elif kind == "user" and value:
            users.append(str(value))
        elif kind == "team" and value:
            users += directory.in_team(str(value)) + await team_copy.members_of(session, str(value))
        elif kind == "owner":
            if (owner := await record_owner(session, data)) is not None:
                users.append(owner)
        elif kind == "assignee":
            ticket = await _ticket(session, data)
            assignee = data.get("assignee_id") or (ticket.assignee_id if ticket else None)
            if assignee:
                users.append(str(assignee))
        elif kind == "team_lead":
            team = value or data.get("group")
            if not team:
                ticket = await _ticket(session, data)
                team = ticket.group_name if ticket else None
            if team:
                users += directory.leads_of(str(team)) + await team_copy.lead_of(session, str(team))
        elif kind == "escalation_team":
            level = data.get("level")
            teams = list(value) if isinstance(value, list) else list(routing.escalation_teams)
            if isinstance(level, int) and 1 <= level <= len(teams):
                users += directory.in_team(teams[level - 1])
    return list(dict.fromkeys(users))


@dataclass(frozen=True)
class Concerned:
    """The customer a fact concerns, as the copy knows it now: a merged id's survivor, its name
    (None while unknown), and whether it was erased."""

    customer_id: uuid.UUID | None
    name: str | None
    erased: bool


async def _concerned(session: AsyncSession, data: Mapping[str, Any]) -> Concerned:
    customer_id = _uuid(data.get("customer_id"))
    if customer_id is None:
        return Concerned(None, None, erased=False)
    found = await KNOWN_CUSTOMERS.known(session, customer_id)
    current = found.current
    name = current.name if current is not None else None
    erased = found.erased or (current is not None and current.erased_at is not None)
    return Concerned(found.survivor_id or customer_id, None if name in (None, UNNAMED, ERASED) else name, erased=erased)


async def _staff_emails(
    session: AsyncSession,
    event: CloudEvent,
    routing: Routing,
    concerned: Concerned,
    users: set[str],
    preferences: Mapping[str, Preference],
) -> None:
    """An e-mail to each user a rule names on the e-mail channel who asked for e-mail for the type
    and has an address; with the daily digest, an item of the user's next digest instead."""
    settings = routing.settings
    for user in sorted(users):
        preference = preferences.get(user)
        profile = routing.directory.get(user)
        if preference is None or not preference.email:
            continue
        if profile is None or not profile.email:
            continue
        title, body, link = render(event.type, event.data, profile.locale, concerned.name)
        if concerned.erased:
            title = body = ERASED
        if preference.digest == "daily":
            await keep_for_digest(
                session,
                user_id=user,
                type=event.type,
                title=title,
                body=body,
                link=link,
                customer_id=concerned.customer_id,
                source_event_id=event.id,
            )
            continue
        base = settings.public_url.rstrip("/")
        await enqueue(
            session,
            Outgoing(
                template="staff",
                recipient_kind="user",
                recipient=user,
                to_address=profile.email,
                locale=profile.locale,
                subject=title,
                values={
                    "title": title,
                    "body": body,
                    "url": f"{base}{link}" if link else None,
                    "type": event.type,
                    "preferences_url": f"{base}/api/v1/notification-preferences",
                },
                customer_id=concerned.customer_id,
                source_type=event.type,
                source_event_id=event.id,
            ),
            settings,
        )


@dataclass(frozen=True)
class RuleView:
    id: uuid.UUID
    condition: list[dict[str, Any]]
    recipients: list[dict[str, Any]]
    channels: list[str]


# The enabled rules of each event type, read at most every RULES_TTL seconds per process (a burst
# of one type reads them once); a change through this process clears them at once, one through
# another replica is seen within RULES_TTL.
RULES_TTL = 1.0
_rules: ReadCache[list[RuleView]] = ReadCache(RULES_TTL)


def forget_rules() -> None:
    _rules.forget()


async def rules_of(session: AsyncSession, event_type: str) -> list[RuleView]:
    async def load() -> list[RuleView]:
        rows = (
            await session.execute(
                select(NotificationRule)
                .where(col(NotificationRule.event_type) == event_type, col(NotificationRule.enabled))
                .order_by(col(NotificationRule.created_at), col(NotificationRule.id))
            )
        ).scalars()
        return [RuleView(r.id, list(r.condition), list(r.recipients), list(r.channels)) for r in rows]

    return await _rules.get(session, event_type, load)


async def route(session: AsyncSession, event: CloudEvent, routing: Routing) -> int:
    """The notifications ``event`` makes; returns how many inbox rows were added."""
    rules = await rules_of(session, event.type)
    if not rules:
        return 0
    data = event.data
    chosen: dict[str, uuid.UUID] = {}  # user -> the first rule that named the user in-app
    mailed: set[str] = set()  # users a rule with the e-mail channel named
    for rule in rules:
        if not holds(rule.condition, data):
            continue
        for user in await recipients_of(session, rule.recipients, data, routing):
            if "in_app" in rule.channels:
                chosen.setdefault(user, rule.id)
            if "email" in rule.channels:
                mailed.add(user)
    if not chosen and not mailed:
        return 0
    preferences = {
        p.user_id: p
        for p in (
            await session.execute(
                select(Preference).where(
                    col(Preference.user_id).in_(list(chosen.keys() | mailed)), col(Preference.event_type) == event.type
                )
            )
        ).scalars()
    }
    muted = {user for user, p in preferences.items() if not p.in_app}
    concerned = await _concerned(session, data)
    await _staff_emails(session, event, routing, concerned, mailed, preferences)
    customer_id = concerned.customer_id
    rows = []
    for user, rule_id in chosen.items():
        if user in muted:
            continue
        profile = routing.directory.get(user)
        title, body, link = render(event.type, data, profile.locale if profile else "en", concerned.name)
        if concerned.erased:
            # A fact that arrives after the customer's erasure: its texts may quote what was erased.
            title = body = ERASED
        added = await add_notification(
            session,
            user_id=user,
            type=event.type,
            title=title,
            body=body,
            link=link,
            customer_id=customer_id,
            source_event_id=event.id,
            rule_id=rule_id,
        )
        if added is None:
            continue
        rows.append(
            outbox_row(
                NotificationSent(
                    notification_id=added.id,
                    channel="in_app",
                    recipient_kind="user",
                    recipient=user,
                    source_type=event.type,
                    source_event_id=event.id,
                    customer_id=customer_id,
                    sent_at=added.created_at,
                ),
                subject=added.id,
                key=user,
            )
        )
    await publish_many(session, rows)
    if rows:
        SENT.labels("in_app").inc(len(rows))
        DELIVERY_SECONDS.labels("in_app").observe(max((utcnow() - event.time).total_seconds(), 0.0))
    return len(rows)
