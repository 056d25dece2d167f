from __future__ import annotations

from datetime import datetime

from sqlmodel import Field

from tessera_notifications.models import Base
from tessera_shared.db import UTCDateTime, utcnow


class Preference(Base, table=True):
    """A user's choice for one event type; without a row: in-app on, e-mail off, no digest."""

    __tablename__ = "notification_preferences"

    user_id: str = Field(primary_key=True, max_length=200)
    event_type: str = Field(primary_key=True, max_length=100)
    in_app: bool = True
    email: bool = False
    digest: str = Field(default="none", max_length=10)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
