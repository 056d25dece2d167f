from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal
from typing import ClassVar

from pydantic import BaseModel

from tessera_billing.api import MoneyOut

_BUCKETS = ("current", "days_1_30", "days_31_60", "days_61_90", "over_90", "total")


class AgingBuckets(MoneyOut):
    money_fields: ClassVar[tuple[str, ...]] = _BUCKETS

    currency: str
    current: Decimal
    days_1_30: Decimal
    days_31_60: Decimal
    days_61_90: Decimal
    over_90: Decimal
    total: Decimal


class CustomerAging(AgingBuckets):
    customer_id: uuid.UUID


class AgingReport(BaseModel):
    as_of: date
    totals: list[AgingBuckets]
    customers: list[CustomerAging]
    next_cursor: str | None = None


class RollforwardLine(MoneyOut):
    money_fields: ClassVar[tuple[str, ...]] = ("opening", "invoiced", "collected", "written_off", "voided", "closing")

    currency: str
    opening: Decimal
    invoiced: Decimal
    collected: Decimal
    written_off: Decimal
    voided: Decimal
    closing: Decimal


class RollforwardReport(BaseModel):
    month: str
    start: date
    end: date
    currencies: list[RollforwardLine]


class DsoLine(MoneyOut):
    money_fields: ClassVar[tuple[str, ...]] = ("receivables", "sales")

    currency: str
    receivables: Decimal
    sales: Decimal
    dso_days: Decimal | None


class DsoReport(BaseModel):
    as_of: date
    period_days: int
    currencies: list[DsoLine]


class StatementLine(MoneyOut):
    money_fields: ClassVar[tuple[str, ...]] = ("amount", "balance", "member_discount")

    currency: str
    entry_date: date
    kind: str
    invoice_id: uuid.UUID
    invoice_number: str | None
    payment_id: uuid.UUID | None
    reference: str | None
    amount: Decimal
    balance: Decimal
    # Loyalty (docs/domain.md §10.5): on an ``invoiced`` line the member discount the invoice took
    # off; on a payment's line (and its reversal) the points that paid it. Null otherwise.
    member_discount: Decimal | None = None
    loyalty_points: int | None = None


class Statement(MoneyOut):
    money_fields: ClassVar[tuple[str, ...]] = ("opening_balance", "closing_balance", "credit_balance")

    customer_id: uuid.UUID
    customer_name: str | None
    currency: str
    start: date
    end: date
    opening_balance: Decimal
    lines: list[StatementLine]
    closing_balance: Decimal
    # Unapplied over-payments held for the customer (today, not as of ``end``).
    credit_balance: Decimal
    truncated: bool
