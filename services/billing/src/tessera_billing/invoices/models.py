from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Column, Date, ForeignKey, Index, Integer, String, Uuid
from sqlmodel import Field

from tessera_billing.models import Base
from tessera_shared.db import Money, UTCDateTime, new_id, utcnow


class Invoice(Base, table=True):
    __tablename__ = "invoices"
    __table_args__ = (
        Index("ix_invoices_customer_id_id", "customer_id", "id"),
        Index("ix_invoices_status_id", "status", "id"),
        # The overdue job walks open invoices by due date.
        Index("ix_invoices_status_due_date", "status", "due_date"),
        # What POST /v1/invoices/search filters and sorts by; the bill-to name's prefix (pattern ops).
        Index("ix_invoices_issue_date_id", "issue_date", "id"),
        Index("ix_invoices_due_date_id", "due_date", "id"),
        Index("ix_invoices_total_id", "total", "id"),
        Index("ix_invoices_balance_due_id", "balance_due", "id"),
        Index("ix_invoices_customer_name", "customer_name", postgresql_ops={"customer_name": "varchar_pattern_ops"}),
    )

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    # Assigned when issued, so that drafts that are voided leave no gap in the sequence.
    number: str | None = Field(default=None, sa_column=Column(String(20), nullable=True, unique=True))
    customer_id: uuid.UUID = Field(nullable=False)
    # Bill-to name as printed; removed on erasure, the amounts stay (legal retention).
    customer_name: str | None = Field(default=None, sa_column=Column(String(200), nullable=True))
    # One invoice per won deal, whatever the number of deliveries of deal.won.
    deal_id: uuid.UUID | None = Field(default=None, sa_column=Column(Uuid(), nullable=True, unique=True))
    status: str = Field(sa_column=Column(String(20), nullable=False))
    currency: str = Field(sa_column=Column(String(3), nullable=False))
    issue_date: date = Field(sa_column=Column(Date(), nullable=False))
    due_date: date = Field(sa_column=Column(Date(), nullable=False))
    payment_terms_days: int = Field(nullable=False)
    subtotal: Decimal = Field(sa_column=Column(Money(), nullable=False))
    tax_total: Decimal = Field(sa_column=Column(Money(), nullable=False))
    total: Decimal = Field(sa_column=Column(Money(), nullable=False))
    amount_paid: Decimal = Field(default=Decimal(0), sa_column=Column(Money(), nullable=False))
    amount_written_off: Decimal = Field(default=Decimal(0), sa_column=Column(Money(), nullable=False))
    balance_due: Decimal = Field(sa_column=Column(Money(), nullable=False))
    overdue_since: date | None = Field(default=None, sa_column=Column(Date(), nullable=True))
    # The last dunning step announced (0: none yet).
    dunning_step: int = Field(default=0, sa_column=Column(Integer(), nullable=False))
    note: str | None = Field(default=None, sa_column=Column(String(1000), nullable=True))
    created_by: str = Field(sa_column=Column(String(200), nullable=False))
    issued_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    paid_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    voided_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    version: int = Field(default=1, nullable=False)


class InvoiceLine(Base, table=True):
    __tablename__ = "invoice_lines"
    __table_args__ = (Index("ix_invoice_lines_invoice_id_position", "invoice_id", "position", unique=True),)

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    invoice_id: uuid.UUID = Field(
        sa_column=Column(Uuid(), ForeignKey("invoices.id", ondelete="CASCADE"), nullable=False)
    )
    position: int = Field(nullable=False)
    product_code: str | None = Field(default=None, sa_column=Column(String(100), nullable=True))
    description: str = Field(sa_column=Column(String(500), nullable=False))
    quantity: Decimal = Field(sa_column=Column(Money(), nullable=False))
    unit_price: Decimal = Field(sa_column=Column(Money(), nullable=False))
    discount_percent: Decimal = Field(sa_column=Column(Money(), nullable=False))
    tax_rate_percent: Decimal = Field(sa_column=Column(Money(), nullable=False))
    net_amount: Decimal = Field(sa_column=Column(Money(), nullable=False))
    tax_amount: Decimal = Field(sa_column=Column(Money(), nullable=False))
    total: Decimal = Field(sa_column=Column(Money(), nullable=False))
    # Set on a member discount line (a negative line, docs/domain.md §10.5): the level's rate used.
    member_discount_percent: Decimal | None = Field(default=None, sa_column=Column(Money(), nullable=True))


class InvoiceCounter(Base, table=True):
    """One row per year: the last number handed out, taken under the row lock in the issuing transaction."""

    __tablename__ = "invoice_counters"

    year: int = Field(sa_column=Column(Integer(), primary_key=True, autoincrement=False))
    last_number: int = Field(default=0, sa_column=Column(Integer(), nullable=False))
