from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Boolean, Column, Index, String
from sqlmodel import Field

from tessera_customer.models import Base
from tessera_shared.db import UTCDateTime, new_id, utcnow

PURPOSES = ("marketing_email", "sms", "phone", "profiling")


class Consent(Base, table=True):
    """The current answer per purpose (segment exports join on it)."""

    __tablename__ = "consents"
    __table_args__ = (Index("ix_consents_purpose_granted_customer_id", "purpose", "granted", "customer_id"),)

    customer_id: uuid.UUID = Field(primary_key=True)
    purpose: str = Field(sa_column=Column(String(30), primary_key=True))
    granted: bool = Field(sa_column=Column(Boolean, nullable=False))
    source: str = Field(sa_column=Column(String(100), nullable=False))
    recorded_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    recorded_by: str = Field(sa_column=Column(String(200), nullable=False))


class ConsentRecord(Base, table=True):
    """Every consent given or withdrawn, kept as proof."""

    __tablename__ = "consent_records"
    __table_args__ = (Index("ix_consent_records_customer_id_recorded_at", "customer_id", "recorded_at"),)

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    customer_id: uuid.UUID = Field(nullable=False)
    purpose: str = Field(sa_column=Column(String(30), nullable=False))
    granted: bool = Field(sa_column=Column(Boolean, nullable=False))
    source: str = Field(sa_column=Column(String(100), nullable=False))
    recorded_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    recorded_by: str = Field(sa_column=Column(String(200), nullable=False))
