from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, Column, Date, Index, String
from sqlmodel import Field

from tessera_sales.models import Base
from tessera_sales.money import normalise_on_load
from tessera_shared.db import JSONType, Money, UTCDateTime, utcnow


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


class CreditLine(Base, table=True):
    """What billing last announced of a customer's credit (credit.exposure_changed): the limit
    and the open receivables the win check compares with (docs/domain.md §10.1)."""

    __tablename__ = "credit_lines"

    customer_id: uuid.UUID = Field(primary_key=True)
    credit_limit: Decimal = Field(sa_column=Column(Money(), nullable=False))
    currency: str = Field(sa_column=Column(String(3), nullable=False))
    rating: str = Field(sa_column=Column(String(1), nullable=False))
    # Open receivables in the limit's currency, and per currency ([{"currency", "amount"}], text amounts).
    exposure: Decimal = Field(sa_column=Column(Money(), nullable=False))
    open_balances: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSONType, nullable=False))
    changed_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class ExchangeRateCopy(Base, table=True):
    """Billing's exchange-rate table as announced (exchange_rate.set): 1 from = rate to."""

    __tablename__ = "exchange_rates"

    from_currency: str = Field(sa_column=Column(String(3), primary_key=True))
    to_currency: str = Field(sa_column=Column(String(3), primary_key=True))
    # Exact decimal text (up to 10 decimals).
    rate: str = Field(sa_column=Column(String(40), nullable=False))
    set_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class DealCreditCheck(Base, table=True):
    """The credit-limit check of a win, kept with the deal: the figures, the rate used and who
    approved going past the limit (the last win's check; a re-win replaces it)."""

    __tablename__ = "deal_credit_checks"
    __table_args__ = (Index("ix_deal_credit_checks_customer_id", "customer_id"),)

    deal_id: uuid.UUID = Field(primary_key=True)
    customer_id: uuid.UUID = Field(nullable=False)
    # In the limit's currency.
    credit_limit: Decimal = Field(sa_column=Column(Money(), nullable=False))
    exposure: Decimal = Field(sa_column=Column(Money(), nullable=False))
    amount: Decimal = Field(sa_column=Column(Money(), nullable=False))
    currency: str = Field(sa_column=Column(String(3), nullable=False))
    # 1 deal currency = rate limit currency (exact text); null when the deal is in the limit's currency.
    exchange_rate: str | None = Field(default=None, sa_column=Column(String(40), nullable=True))
    fits: bool = Field(nullable=False)
    # Until billing announces exposure with this deal's invoice in it, the win counts as exposure.
    invoiced: bool = Field(default=False, nullable=False)
    override_by: str | None = Field(default=None, sa_column=Column(String(200), nullable=True))
    checked_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))


normalise_on_load(OverdueInvoice, money={"amount_due": "currency"})
normalise_on_load(CollectedPayment, money={"amount": "currency"})
normalise_on_load(CreditLine, money={"credit_limit": "currency", "exposure": "currency"})
normalise_on_load(DealCreditCheck, money={"credit_limit": "currency", "exposure": "currency", "amount": "currency"})
