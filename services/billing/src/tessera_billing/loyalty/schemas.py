from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field, StrictInt, field_serializer

from tessera_billing.api import MoneyOut, plain_number


class LoyaltyPaymentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    points: StrictInt = Field(gt=0, le=10_000_000, description="Points to redeem towards the invoice")


class LoyaltyPaymentOut(MoneyOut):
    """A payment with points: ``pending`` until the customer service answers, then ``applied``,
    ``refused`` (not enough points), ``cancelled`` (the invoice no longer had that much open) or
    ``reversed`` (the invoice was voided); points are given back in the last two."""

    model_config = ConfigDict(from_attributes=True)
    money_fields: ClassVar[tuple[str, ...]] = ("amount",)

    id: uuid.UUID
    customer_id: uuid.UUID
    invoice_id: uuid.UUID
    points: int
    point_value: Decimal
    amount: Decimal
    currency: str
    status: str
    balance_after: int | None
    payment_id: uuid.UUID | None
    requested_by: str
    requested_on: date
    created_at: datetime
    decided_at: datetime | None
    reversed_at: datetime | None

    @field_serializer("point_value")
    def _plain(self, value: Decimal) -> str:
        return str(plain_number(value))
