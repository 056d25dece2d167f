from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from sqlalchemy import Column, String
from sqlmodel import Field

from tessera_billing.models import Base
from tessera_shared.db import Money, UTCDateTime, utcnow


class CreditProfile(Base, table=True):
    """Per customer: rating, limit and payment terms; created when the customer first appears."""

    __tablename__ = "credit_profiles"

    customer_id: uuid.UUID = Field(primary_key=True)
    # Removed on erasure; the limit and terms stay.
    customer_name: str | None = Field(default=None, sa_column=Column(String(200), nullable=True))
    rating: str = Field(sa_column=Column(String(1), nullable=False))
    credit_limit: Decimal = Field(sa_column=Column(Money(), nullable=False))
    currency: str = Field(sa_column=Column(String(3), nullable=False))
    payment_terms_days: int = Field(nullable=False)
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    version: int = Field(default=1, nullable=False)
