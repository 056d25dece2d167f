from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from sqlalchemy import Column, ForeignKey, Index, String, Uuid
from sqlmodel import Field

from tessera_billing.models import Base
from tessera_shared.db import Money, UTCDateTime, new_id, utcnow


class WriteOff(Base, table=True):
    """A request to write an invoice off as bad debt, and the decision of a second person."""

    __tablename__ = "write_offs"
    __table_args__ = (
        Index("ix_write_offs_status_id", "status", "id"),
        Index("ix_write_offs_invoice_id", "invoice_id"),
    )

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    invoice_id: uuid.UUID = Field(
        sa_column=Column(Uuid(), ForeignKey("invoices.id", ondelete="CASCADE"), nullable=False)
    )
    customer_id: uuid.UUID = Field(nullable=False)
    # The balance when requested; the balance at approval is what is written off.
    amount: Decimal = Field(sa_column=Column(Money(), nullable=False))
    currency: str = Field(sa_column=Column(String(3), nullable=False))
    reason: str = Field(sa_column=Column(String(1000), nullable=False))
    status: str = Field(default="requested", sa_column=Column(String(20), nullable=False))
    requested_by: str = Field(sa_column=Column(String(200), nullable=False))
    decided_by: str | None = Field(default=None, sa_column=Column(String(200), nullable=True))
    decision_note: str | None = Field(default=None, sa_column=Column(String(1000), nullable=True))
    requested_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    decided_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    version: int = Field(default=1, nullable=False)
