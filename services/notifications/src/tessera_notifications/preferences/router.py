from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter

from tessera_notifications.api import INBOX_ROLES
from tessera_notifications.preferences.schemas import Preferences
from tessera_notifications.preferences.service import preferences_of, replace_preferences
from tessera_shared.auth import Principal, require_roles
from tessera_shared.deps import SessionDep

router = APIRouter(prefix="/v1/notification-preferences", tags=["notification-preferences"])

Reader = Annotated[Principal, require_roles(*INBOX_ROLES)]


@router.get("", response_model=Preferences, summary="My notification preferences, per event type")
async def get_notification_preferences(session: SessionDep, principal: Reader) -> Preferences:
    return await preferences_of(session, principal.subject)


@router.put("", response_model=Preferences, summary="Replace my notification preferences")
async def replace_notification_preferences(body: Preferences, session: SessionDep, principal: Reader) -> Preferences:
    return await replace_preferences(session, principal.subject, body)
