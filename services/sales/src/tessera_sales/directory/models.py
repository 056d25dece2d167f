from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Column, Integer, String
from sqlmodel import Field

from tessera_sales.models import Base
from tessera_shared.db import UTCDateTime, utcnow


class KnownCustomer(Base, table=True):
    """Sales' local copy of what it needs about a customer, kept from customer events."""

    __tablename__ = "known_customers"

    customer_id: uuid.UUID = Field(primary_key=True)
    name: str = Field(sa_column=Column(String(200), nullable=False))
    owner_id: str | None = Field(default=None, sa_column=Column(String(200), nullable=True, index=True))
    status: str = Field(sa_column=Column(String(20), nullable=False))
    # Set by customer.merged: the id lives on as an alias of the survivor.
    merged_into_id: uuid.UUID | None = Field(default=None, nullable=True)
    erased_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    # The customer record's version last applied: a late, older customer.updated never wins.
    version: int = Field(default=1, sa_column=Column(Integer, nullable=False, server_default="1"))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
