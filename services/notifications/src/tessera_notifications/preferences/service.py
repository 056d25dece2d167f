from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from tessera_notifications.preferences.models import Preference
from tessera_notifications.preferences.schemas import PreferenceItem, Preferences
from tessera_notifications.rules.models import NotificationRule
from tessera_shared.errors import InvalidInput


async def preferences_of(session: AsyncSession, user_id: str) -> Preferences:
    """The user's choice for every event type a rule routes (the default where none is stored)."""
    stored = {
        p.event_type: p
        for p in (await session.execute(select(Preference).where(col(Preference.user_id) == user_id))).scalars()
    }
    routed = set((await session.execute(select(col(NotificationRule.event_type)).distinct())).scalars())
    items = [
        PreferenceItem.model_validate(stored[t]) if t in stored else PreferenceItem(event_type=t)
        for t in sorted(routed | set(stored))
    ]
    return Preferences(items=items)


async def replace_preferences(session: AsyncSession, user_id: str, body: Preferences) -> Preferences:
    """The user's stored choices become ``body``'s (types not named go back to the default)."""
    seen: set[str] = set()
    for index, item in enumerate(body.items):
        if item.event_type in seen:
            raise InvalidInput(f"items.{index}.event_type", "named twice")
        seen.add(item.event_type)
    await session.execute(delete(Preference).where(col(Preference.user_id) == user_id))
    session.add_all(Preference(user_id=user_id, **item.model_dump()) for item in body.items)
    await session.flush()
    return await preferences_of(session, user_id)
