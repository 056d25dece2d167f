from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Column, Date, ForeignKey, Index, String, Uuid
from sqlmodel import Field

from tessera_billing.models import Base
from tessera_shared.db import Money, UTCDateTime, new_id, utcnow


class Payment(Base, table=True):
    __tablename__ = "payments"
    __table_args__ = (
        Index("ix_payments_customer_id_id", "customer_id", "id"),
        Index("ix_payments_customer_id_currency", "customer_id", "currency"),
    )

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    customer_id: uuid.UUID = Field(nullable=False)
    amount: Decimal = Field(sa_column=Column(Money(), nullable=False))
    currency: str = Field(sa_column=Column(String(3), nullable=False))
    received_on: date = Field(sa_column=Column(Date(), nullable=False))
    method: str = Field(sa_column=Column(String(20), nullable=False))
    reference: str | None = Field(default=None, sa_column=Column(String(200), nullable=True))
    # What is left of the payment as customer credit, to be applied to later invoices.
    unallocated: Decimal = Field(sa_column=Column(Money(), nullable=False))
    recorded_by: str = Field(sa_column=Column(String(200), nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))


class PaymentAllocation(Base, table=True):
    __tablename__ = "payment_allocations"
    __table_args__ = (
        Index("ix_payment_allocations_payment_id", "payment_id"),
        Index("ix_payment_allocations_invoice_id", "invoice_id"),
    )

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    payment_id: uuid.UUID = Field(
        sa_column=Column(Uuid(), ForeignKey("payments.id", ondelete="CASCADE"), nullable=False)
    )
    invoice_id: uuid.UUID = Field(
        sa_column=Column(Uuid(), ForeignKey("invoices.id", ondelete="CASCADE"), nullable=False)
    )
    amount: Decimal = Field(sa_column=Column(Money(), nullable=False))
    # The day the money met the invoice: the payment day, or later when credit was applied.
    applied_on: date = Field(sa_column=Column(Date(), nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
