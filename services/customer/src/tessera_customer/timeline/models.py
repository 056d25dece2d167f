from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Column, Index, String
from sqlmodel import Field

from tessera_customer.models import Base
from tessera_shared.db import JSONType, UTCDateTime, new_id


class TimelineEntry(Base, table=True):
    """One fact about a customer, from any service, as it happened."""

    __tablename__ = "timeline_entries"
    __table_args__ = (
        Index("ix_timeline_entries_customer_id_occurred_at_id", "customer_id", "occurred_at", "id"),
        Index("ix_timeline_entries_kind_ref_id", "kind", "ref_id"),
    )

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    customer_id: uuid.UUID = Field(nullable=False)
    occurred_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    kind: str = Field(sa_column=Column(String(60), nullable=False))
    source: str = Field(sa_column=Column(String(30), nullable=False))
    summary: str = Field(sa_column=Column(String(500), nullable=False))
    ref_id: str | None = Field(default=None, sa_column=Column(String(100), nullable=True))
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSONType, nullable=False))
    # The consumed event this came from (None for the service's own changes).
    event_id: str | None = Field(default=None, sa_column=Column(String(200), nullable=True, unique=True))
