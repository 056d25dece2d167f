from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Column, Date, Index, String, Uuid
from sqlmodel import Field

from tessera_billing.models import Base
from tessera_shared.db import Money, UTCDateTime, new_id, utcnow


class LedgerEntry(Base, table=True):
    """One receivable movement of one invoice on one day (+ raises what is owed, − lowers it).

    Reports as of any date sum these facts up to that date; the invoice row holds only the
    current state. ``due_date`` is copied from the invoice so that ageing is one-table work.
    """

    __tablename__ = "ledger_entries"
    __table_args__ = (
        Index("ix_ledger_entries_entry_date", "entry_date"),
        Index("ix_ledger_entries_customer_id_entry_date", "customer_id", "entry_date"),
        Index("ix_ledger_entries_invoice_id", "invoice_id"),
    )

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    invoice_id: uuid.UUID = Field(nullable=False)
    customer_id: uuid.UUID = Field(nullable=False)
    currency: str = Field(sa_column=Column(String(3), nullable=False))
    # invoiced (+), collected (−), written_off (− ; + when recovered), voided (−)
    kind: str = Field(sa_column=Column(String(20), nullable=False))
    amount: Decimal = Field(sa_column=Column(Money(), nullable=False))
    entry_date: date = Field(sa_column=Column(Date(), nullable=False))
    due_date: date = Field(sa_column=Column(Date(), nullable=False))
    payment_id: uuid.UUID | None = Field(default=None, sa_column=Column(Uuid(), nullable=True))
    reference: str | None = Field(default=None, sa_column=Column(String(200), nullable=True))
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
