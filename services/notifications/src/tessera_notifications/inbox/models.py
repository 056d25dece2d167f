from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Index, UniqueConstraint
from sqlmodel import Field

from tessera_notifications.models import Base
from tessera_shared.db import UTCDateTime, new_id, utcnow


class Notification(Base, table=True):
    """One in-app notification in one user's inbox. ``seq`` grows by one per notification of the
    user, in commit order (user_sequences is locked while it is taken): the live stream's event id."""

    __tablename__ = "notifications"
    __table_args__ = (
        UniqueConstraint("user_id", "seq"),
        # One notification per user per fact, whatever number of rules named the user.
        UniqueConstraint("user_id", "source_event_id"),
        Index("ix_notifications_inbox", "user_id", "unread", "seq"),
    )

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    user_id: str = Field(max_length=200)
    seq: int
    type: str = Field(max_length=100)
    title: str = Field(max_length=300)
    body: str = Field(max_length=2000)
    link: str | None = Field(default=None, max_length=300)
    customer_id: uuid.UUID | None = Field(default=None, index=True)
    source_event_id: str = Field(max_length=100)
    rule_id: uuid.UUID | None = None
    unread: bool = True
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    read_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class UserSequence(Base, table=True):
    """The last ``seq`` given to a user's notifications."""

    __tablename__ = "user_sequences"

    user_id: str = Field(primary_key=True, max_length=200)
    last_seq: int = 0
