from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Column, Index, String, Text
from sqlmodel import Field

from tessera_sales.models import Base
from tessera_shared.db import UTCDateTime, new_id, utcnow


class Activity(Base, table=True):
    __tablename__ = "activities"
    __table_args__ = (
        Index("ix_activities_owner_id_id", "owner_id", "id"),
        Index("ix_activities_customer_id_id", "customer_id", "id"),
        Index("ix_activities_deal_id", "deal_id"),
        Index("ix_activities_lead_id", "lead_id"),
        # The reminder job and the overdue list scan only open tasks by time.
        Index("ix_activities_remind_at_open", "remind_at", "reminded_at"),
        Index("ix_activities_due_at_completed_at", "due_at", "completed_at"),
    )

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    kind: str = Field(sa_column=Column(String(20), nullable=False))
    subject: str = Field(sa_column=Column(String(300), nullable=False))
    notes: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    customer_id: uuid.UUID | None = Field(default=None, nullable=True)
    contact_id: uuid.UUID | None = Field(default=None, nullable=True)
    lead_id: uuid.UUID | None = Field(default=None, nullable=True)
    deal_id: uuid.UUID | None = Field(default=None, nullable=True)
    owner_id: str | None = Field(default=None, sa_column=Column(String(200), nullable=True))
    occurred_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    due_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    remind_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    reminded_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    completed_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    # What created it when not a person (e.g. 'collection:<invoice>:step:2'): makes reactions happen once.
    origin_key: str | None = Field(default=None, sa_column=Column(String(200), nullable=True, unique=True))
    # The id in the system the record came from: what a batch upsert (and an import) finds it by.
    external_id: str | None = Field(default=None, sa_column=Column(String(200), nullable=True, unique=True))
    created_by: str = Field(sa_column=Column(String(200), nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    version: int = Field(default=1, nullable=False)
