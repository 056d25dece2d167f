from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Boolean, Column, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlmodel import Field

from tessera_service_desk.models import Base
from tessera_shared.db import UTCDateTime, new_id, utcnow


class SlaPolicy(Base, table=True):
    __tablename__ = "sla_policies"
    __table_args__ = (UniqueConstraint("priority", "service_level", "tier"),)

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    priority: str = Field(sa_column=Column(String(10), nullable=False))
    # "any" matches every level / tier; the most specific policy wins.
    service_level: str = Field(sa_column=Column(String(30), nullable=False))
    tier: str = Field(sa_column=Column(String(20), nullable=False))
    first_response_minutes: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    next_response_minutes: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    resolution_minutes: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    business_hours: bool = Field(default=True, sa_column=Column(Boolean, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    version: int = Field(default=1, nullable=False)


class SlaBreach(Base, table=True):
    """One row per detected breach: detect-once key and the source of compliance reports."""

    __tablename__ = "sla_breaches"
    __table_args__ = (
        UniqueConstraint("ticket_id", "metric", "due_at"),
        Index("ix_sla_breaches_breached_at", "breached_at"),
    )

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    ticket_id: uuid.UUID = Field(sa_column=Column(ForeignKey("tickets.id"), nullable=False))
    customer_id: uuid.UUID = Field(nullable=False)
    metric: str = Field(sa_column=Column(String(20), nullable=False))
    priority: str = Field(sa_column=Column(String(10), nullable=False))
    due_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    breached_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class EscalationNotification(Base, table=True):
    """The next tier's to-do: who must look at an escalated ticket, and why."""

    __tablename__ = "escalation_notifications"
    __table_args__ = (Index("ix_escalation_notifications_recipient_group_id", "recipient_group", "id"),)

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    ticket_id: uuid.UUID = Field(sa_column=Column(ForeignKey("tickets.id"), nullable=False))
    level: int = Field(sa_column=Column(Integer, nullable=False))
    recipient_group: str = Field(sa_column=Column(String(100), nullable=False))
    message: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
