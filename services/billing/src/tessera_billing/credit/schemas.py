from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt

from tessera_billing.api import Currency, MoneyOut, NonNegativeAmount, PositiveAmount


class CreditProfileOut(MoneyOut):
    money_fields: ClassVar[tuple[str, ...]] = ("credit_limit",)

    customer_id: uuid.UUID
    customer_name: str | None
    rating: str
    credit_limit: Decimal
    currency: str
    payment_terms_days: int
    created_at: datetime
    updated_at: datetime
    version: int


class CreditProfilePatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rating: Literal["A", "B", "C", "D"] | None = None
    credit_limit: NonNegativeAmount | None = None
    currency: Currency | None = None
    payment_terms_days: StrictInt | None = Field(default=None, ge=0, le=365)


class CreditCheckIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount: PositiveAmount
    currency: Currency


class CreditCheckOut(MoneyOut):
    money_fields: ClassVar[tuple[str, ...]] = ("requested_amount", "exposure", "credit_limit", "headroom")

    customer_id: uuid.UUID
    fits: bool
    currency: str
    requested_amount: Decimal
    exposure: Decimal
    credit_limit: Decimal
    headroom: Decimal
    rating: str
    # 1 unit of the amount's currency = exchange_rate units of the limit's (``currency``); null when
    # the amount is in the limit's currency. ``requested_amount`` and ``exposure`` are converted.
    exchange_rate: str | None = None
