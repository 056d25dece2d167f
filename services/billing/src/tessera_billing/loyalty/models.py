"""Loyalty in billing (docs/domain.md §10.5): the member level the customer service announced, and
payments with points, each a request the customer service answers."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Column, Date, Index, Integer, String, Uuid
from sqlmodel import Field

from tessera_billing.models import Base
from tessera_shared.db import Money, UTCDateTime, new_id, utcnow


class MemberLevel(Base, table=True):
    """The customer's member level and its discount rate, as ``loyalty.level_changed`` last said (newest wins)."""

    __tablename__ = "member_levels"

    customer_id: uuid.UUID = Field(primary_key=True)
    level: str = Field(sa_column=Column(String(20), nullable=False))
    discount_percent: Decimal = Field(sa_column=Column(Money(), nullable=False))
    changed_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class LoyaltyPayment(Base, table=True):
    """Part of an invoice paid with points: ``pending`` until the customer service answers, then
    ``applied`` (a payment with method ``loyalty_points``), ``refused`` (not enough points),
    ``cancelled`` (the invoice no longer had that much open: points given back) or ``reversed``
    (the invoice was voided: points given back)."""

    __tablename__ = "loyalty_payments"
    __table_args__ = (
        Index("ix_loyalty_payments_invoice_id", "invoice_id"),
        Index("ix_loyalty_payments_customer_id_id", "customer_id", "id"),
    )

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    customer_id: uuid.UUID = Field(nullable=False)
    invoice_id: uuid.UUID = Field(sa_column=Column(Uuid(), nullable=False))
    points: int = Field(sa_column=Column(Integer(), nullable=False))
    # The rate used: what one point paid in the invoice's currency when it was asked.
    point_value: Decimal = Field(sa_column=Column(Money(), nullable=False))
    amount: Decimal = Field(sa_column=Column(Money(), nullable=False))
    currency: str = Field(sa_column=Column(String(3), nullable=False))
    status: str = Field(sa_column=Column(String(20), nullable=False))
    # The customer's balance as the customer service last told it (redeemed or refused).
    balance_after: int | None = Field(default=None, sa_column=Column(Integer(), nullable=True))
    payment_id: uuid.UUID | None = Field(default=None, sa_column=Column(Uuid(), nullable=True))
    requested_by: str = Field(sa_column=Column(String(200), nullable=False))
    requested_on: date = Field(sa_column=Column(Date(), nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    decided_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    reversed_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
