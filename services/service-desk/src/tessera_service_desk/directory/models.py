from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Column, String
from sqlmodel import Field

from tessera_service_desk.models import Base
from tessera_shared.db import UTCDateTime, utcnow


class KnownCustomer(Base, table=True):
    """The service desk's local copy of a customer: its tier drives SLAs and priorities."""

    __tablename__ = "known_customers"

    customer_id: uuid.UUID = Field(primary_key=True)
    name: str = Field(sa_column=Column(String(200), nullable=False))
    tier: str = Field(default="ordinary", sa_column=Column(String(20), nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    # The customer's service agreement level (服务协议); one axis of the SLA policy.
    service_level: str = Field(
        default="standard", sa_column=Column(String(30), nullable=False, server_default="standard")
    )
    # Guards against a stale tier announcement overwriting a newer one.
    tier_changed_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    merged_into: uuid.UUID | None = Field(default=None, nullable=True)
    erased_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
