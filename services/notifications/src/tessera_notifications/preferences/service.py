from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from tessera_notifications.event_types import business_event_types, refuse_unknown
from tessera_notifications.preferences.models import Preference
from tessera_notifications.preferences.schemas import PreferenceItem, Preferences
from tessera_notifications.rules.models import NotificationRule
from tessera_shared.db import utcnow
from tessera_shared.errors import InvalidInput
from tessera_shared.events.contracts.notifications import NotificationPreferencesUpdated, PreferenceChoice
from tessera_shared.outbox import publish


async def preferences_of(session: AsyncSession, user_id: str) -> Preferences:
    """The user's choice for every event type a rule routes (the default where none is stored);
    only published types, so that what a GET shows a PUT takes back (a rule or choice stored for
    another type, e.g. before types were checked, is left out)."""
    stored = {
        p.event_type: p
        for p in (await session.execute(select(Preference).where(col(Preference.user_id) == user_id))).scalars()
    }
    routed = set((await session.execute(select(col(NotificationRule.event_type)).distinct())).scalars())
    items = [
        PreferenceItem.model_validate(stored[t]) if t in stored else PreferenceItem(event_type=t)
        for t in sorted((routed | set(stored)) & business_event_types())
    ]
    return Preferences(items=items)


async def replace_preferences(session: AsyncSession, user_id: str, body: Preferences) -> Preferences:
    """The user's stored choices become ``body``'s (types not named go back to the default);
    a change is announced as ``notification_preferences.updated`` (the same choices again: nothing)."""
    seen: set[str] = set()
    for index, item in enumerate(body.items):
        if item.event_type in seen:
            raise InvalidInput(f"items.{index}.event_type", "named twice")
        seen.add(item.event_type)
        refuse_unknown(f"items.{index}.event_type", [item.event_type])
    stored = sorted(
        (p.event_type, p.in_app, p.email, p.digest)
        for p in (await session.execute(select(Preference).where(col(Preference.user_id) == user_id))).scalars()
    )
    wanted = sorted((i.event_type, i.in_app, i.email, i.digest) for i in body.items)
    if stored != wanted:
        await session.execute(delete(Preference).where(col(Preference.user_id) == user_id))
        session.add_all(Preference(user_id=user_id, **item.model_dump()) for item in body.items)
        await session.flush()
        await publish(
            session,
            NotificationPreferencesUpdated(
                user_id=user_id,
                items=[PreferenceChoice(event_type=t, in_app=a, email=e, digest=d) for t, a, e, d in wanted],
                updated_at=utcnow(),
            ),
            subject=user_id,
            key=user_id,
        )
    return await preferences_of(session, user_id)
