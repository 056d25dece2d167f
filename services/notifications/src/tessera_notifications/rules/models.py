from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Column
from sqlmodel import Field

from tessera_notifications.models import Base
from tessera_shared.db import JSONType, UTCDateTime, new_id, utcnow


class NotificationRule(Base, table=True):
    """Who is told of an event type, on which channels, when the event's data meets a condition."""

    __tablename__ = "notification_rules"

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    name: str = Field(max_length=200)
    event_type: str = Field(max_length=100, index=True)
    # [{"field": "amount", "op": "gte", "value": "100000"}], all must hold (rules.conditions).
    condition: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSONType, nullable=False))
    # [{"kind": "role"|"owner"|"team"|"team_lead"|"escalation_team"|"user", "value": ...}]
    recipients: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSONType, nullable=False))
    channels: list[str] = Field(default_factory=list, sa_column=Column(JSONType, nullable=False))
    enabled: bool = True
    shipped: bool = False
    version: int = 1
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
