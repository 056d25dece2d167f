from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal
from typing import ClassVar

from pydantic import BaseModel

from tessera_billing.api import MoneyOut
from tessera_billing.invoices.schemas import InvoiceOut
from tessera_billing.reports.schemas import AgingBuckets


class CurrencyAmount(MoneyOut):
    money_fields: ClassVar[tuple[str, ...]] = ("amount",)

    currency: str
    amount: Decimal


class CreditSummary(MoneyOut):
    """The credit profile without the customer's name; ``known`` is false for the defaults of a
    customer billing has not seen yet."""

    money_fields: ClassVar[tuple[str, ...]] = ("credit_limit", "exposure")

    known: bool
    rating: str
    credit_limit: Decimal
    currency: str
    payment_terms_days: int
    exposure: Decimal


class ReceivablesSummary(BaseModel):
    customer_id: uuid.UUID
    as_of: date
    open_invoices: list[InvoiceOut]
    recent_invoices: list[InvoiceOut]
    # Over all open invoices (not only the ones listed), per currency.
    balance: list[CurrencyAmount]
    overdue_amount: list[CurrencyAmount]
    # None for a role that may not read reports (or credit profiles), as those endpoints would answer 403.
    aging: list[AgingBuckets] | None
    credit: CreditSummary | None
    # Over-payments kept as credit, per currency.
    customer_credit: list[CurrencyAmount]
    truncated: bool
