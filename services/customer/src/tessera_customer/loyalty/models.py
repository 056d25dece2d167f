from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, Column, Index, Integer, String
from sqlmodel import Field

from tessera_customer.models import Base
from tessera_shared.db import UTCDateTime, new_id, utcnow


class LoyaltyAccount(Base, table=True):
    __tablename__ = "loyalty_accounts"
    # The database itself refuses a negative balance, whatever the code does.
    __table_args__ = (CheckConstraint("balance >= 0", name="balance_not_negative"),)

    customer_id: uuid.UUID = Field(primary_key=True)
    balance: int = Field(default=0, sa_column=Column(Integer, nullable=False, default=0))
    earned_total: int = Field(default=0, sa_column=Column(Integer, nullable=False, default=0))
    level: str = Field(sa_column=Column(String(20), nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    version: int = Field(default=1, nullable=False)


class LoyaltyEntry(Base, table=True):
    """A movement on the points account: the member's statement."""

    __tablename__ = "loyalty_entries"
    __table_args__ = (Index("ix_loyalty_entries_customer_id_id", "customer_id", "id"),)

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    customer_id: uuid.UUID = Field(nullable=False)
    kind: str = Field(sa_column=Column(String(10), nullable=False))
    points: int = Field(sa_column=Column(Integer, nullable=False))
    balance_after: int = Field(sa_column=Column(Integer, nullable=False))
    reason: str = Field(sa_column=Column(String(300), nullable=False))
    # The paid invoice an earning came from: one earning per invoice.
    ref: str | None = Field(default=None, sa_column=Column(String(100), nullable=True, unique=True))
    actor: str | None = Field(default=None, sa_column=Column(String(200), nullable=True))
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
