from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Column, Index, String
from sqlmodel import Field

from tessera_customer.models import Base
from tessera_shared.db import UTCDateTime, new_id, utcnow


class StatusChange(Base, table=True):
    """Audit of every lifecycle transition: who or what, when, from, to and why."""

    __tablename__ = "status_changes"
    __table_args__ = (Index("ix_status_changes_customer_id_changed_at", "customer_id", "changed_at"),)

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    customer_id: uuid.UUID = Field(nullable=False)
    from_status: str = Field(sa_column=Column(String(20), nullable=False))
    to_status: str = Field(sa_column=Column(String(20), nullable=False))
    reason: str = Field(sa_column=Column(String(40), nullable=False))
    actor: str | None = Field(default=None, sa_column=Column(String(200), nullable=True))
    note: str | None = Field(default=None, sa_column=Column(String(500), nullable=True))
    changed_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
