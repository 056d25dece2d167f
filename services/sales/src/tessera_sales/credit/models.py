from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import BigInteger, Column, Date, Index, String
from sqlmodel import Field

from tessera_sales.models import Base
from tessera_sales.money import normalise_on_load
from tessera_shared.db import Money, UTCDateTime, utcnow


class OverdueInvoice(Base, table=True):
    """An invoice billing reported overdue and not yet settled: any row puts its customer on hold."""

    __tablename__ = "overdue_invoices"
    __table_args__ = (Index("ix_overdue_invoices_customer_id", "customer_id"),)

    invoice_id: uuid.UUID = Field(primary_key=True)
    customer_id: uuid.UUID = Field(nullable=False)
    deal_id: uuid.UUID | None = Field(default=None, nullable=True)
    number: str = Field(sa_column=Column(String(50), nullable=False))
    amount_due: Decimal = Field(sa_column=Column(Money(), nullable=False))
    currency: str = Field(sa_column=Column(String(3), nullable=False))
    due_date: date = Field(sa_column=Column(Date, nullable=False))
    days_overdue: int = Field(nullable=False)
    since: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))


class CollectedPayment(Base, table=True):
    """Cash billing allocated to an invoice (per deal when known): campaign ROI counts it, and
    a re-announced payment finds its row and changes nothing twice."""

    __tablename__ = "collected_payments"
    __table_args__ = (Index("ix_collected_payments_deal_id", "deal_id"),)

    payment_id: uuid.UUID = Field(primary_key=True)
    invoice_id: uuid.UUID = Field(primary_key=True)
    deal_id: uuid.UUID | None = Field(default=None, nullable=True)
    customer_id: uuid.UUID = Field(nullable=False)
    amount: Decimal = Field(sa_column=Column(Money(), nullable=False))
    amount_minor: int = Field(sa_column=Column(BigInteger, nullable=False))
    currency: str = Field(sa_column=Column(String(3), nullable=False))
    received_on: date = Field(sa_column=Column(Date, nullable=False))


normalise_on_load(OverdueInvoice, money={"amount_due": "currency"})
normalise_on_load(CollectedPayment, money={"amount": "currency"})
