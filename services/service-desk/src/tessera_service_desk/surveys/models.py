from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Column, ForeignKey, Index, Integer, String, Text
from sqlmodel import Field

from tessera_service_desk.models import Base
from tessera_shared.db import UTCDateTime, new_id, utcnow


class Survey(Base, table=True):
    __tablename__ = "surveys"
    __table_args__ = (Index("ix_surveys_answered_at", "answered_at"),)

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    # Unique: one survey per ticket, however the close is retried.
    ticket_id: uuid.UUID = Field(sa_column=Column(ForeignKey("tickets.id"), nullable=False, unique=True))
    customer_id: uuid.UUID = Field(nullable=False, index=True)
    agent_id: str | None = Field(default=None, sa_column=Column(String(200), nullable=True))
    category: str = Field(sa_column=Column(String(20), nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    answered_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    csat: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    nps: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    comment: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
