from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from tessera_billing.api import Currency, MoneyOut, PositiveAmount, Text200
from tessera_shared.http.inputs import IsoDate

Method = Literal["bank_transfer", "card", "cash", "cheque", "direct_debit", "other"]


class AllocationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    invoice_id: uuid.UUID
    amount: PositiveAmount


class PaymentCreate(BaseModel):
    """Sent to one invoice (``invoice_id``) or to a customer (``customer_id``): oldest invoices first,
    or as ``allocations`` say. Whatever is not allocated stays as the customer's credit."""

    model_config = ConfigDict(extra="forbid")

    invoice_id: uuid.UUID | None = None
    customer_id: uuid.UUID | None = None
    amount: PositiveAmount
    currency: Currency
    received_on: IsoDate | None = Field(default=None, description="Defaults to today; never in the future")
    method: Method = "bank_transfer"
    reference: Text200 | None = None
    allocations: list[AllocationIn] | None = Field(default=None, min_length=1, max_length=200)


class AllocationOut(BaseModel):
    invoice_id: uuid.UUID
    amount: Decimal
    applied_on: date


class PaymentOut(MoneyOut):
    money_fields: ClassVar[tuple[str, ...]] = ("amount", "unallocated")

    id: uuid.UUID
    customer_id: uuid.UUID
    currency: str
    amount: Decimal
    unallocated: Decimal
    received_on: date
    method: str
    reference: str | None
    recorded_by: str
    created_at: datetime
    allocations: list[AllocationOut] = []  # noqa: RUF012 - a pydantic field (MoneyOut is a BaseModel): copied per instance
