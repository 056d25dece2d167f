from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Column, Index
from sqlmodel import Field

from tessera_billing.models import Base
from tessera_shared.db import UTCDateTime


class InvoiceDispute(Base, table=True):
    """A billing_dispute ticket from the service desk; while open, dunning of its invoice pauses."""

    __tablename__ = "invoice_disputes"
    __table_args__ = (Index("ix_invoice_disputes_invoice_id_closed_at", "invoice_id", "closed_at"),)

    ticket_id: uuid.UUID = Field(primary_key=True)
    invoice_id: uuid.UUID = Field(nullable=False)
    customer_id: uuid.UUID = Field(nullable=False, index=True)
    opened_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    closed_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
