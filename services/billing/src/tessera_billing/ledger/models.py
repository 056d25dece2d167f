from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Column, Date, Index, String, Uuid
from sqlmodel import Field

from tessera_billing.models import Base
from tessera_shared.db import Money, UTCDateTime, new_id, utcnow


class LedgerEntry(Base, table=True):
    """One receivable movement of one invoice on one day (+ raises what is owed, - lowers it).

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
    # invoiced (+), collected (-), written_off (- ; + when recovered), voided (-)
    kind: str = Field(sa_column=Column(String(20), nullable=False))
    amount: Decimal = Field(sa_column=Column(Money(), nullable=False))
    entry_date: date = Field(sa_column=Column(Date(), nullable=False))
    due_date: date = Field(sa_column=Column(Date(), nullable=False))
    payment_id: uuid.UUID | None = Field(default=None, sa_column=Column(Uuid(), nullable=True))
    reference: str | None = Field(default=None, sa_column=Column(String(200), nullable=True))
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))


class ReceivableBalance(Base, table=True):
    """The ledger summed per customer, currency and due date, written with every ledger entry.

    Rows that reach zero are removed, so ageing as of today reads open items only, and the
    by-customer page is a range of this primary key.
    """

    __tablename__ = "receivable_balances"

    customer_id: uuid.UUID = Field(primary_key=True)
    currency: str = Field(sa_column=Column(String(3), primary_key=True))
    due_date: date = Field(sa_column=Column(Date(), primary_key=True))
    amount: Decimal = Field(sa_column=Column(Money(), nullable=False))


class ReceivableTotal(Base, table=True):
    """The ledger summed per currency and due date, written with every ledger entry.

    Rows are kept at zero (one per currency and calendar day at most, not per invoice): the
    earliest entry date tells from which day a currency has any entry, as the ledger would.
    """

    __tablename__ = "receivable_totals"

    currency: str = Field(sa_column=Column(String(3), primary_key=True))
    due_date: date = Field(sa_column=Column(Date(), primary_key=True))
    amount: Decimal = Field(sa_column=Column(Money(), nullable=False))
    first_entry_date: date = Field(sa_column=Column(Date(), nullable=False))
