from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictInt

from tessera_customer.loyalty.models import LoyaltyAccount
from tessera_customer.loyalty.rules import level_for
from tessera_customer.settings import CustomerSettings
from tessera_shared.http.inputs import Trim


class LoyaltyOut(BaseModel):
    customer_id: uuid.UUID
    balance: int
    earned_total: int
    level: str
    discount_percent: Decimal
    version: int

    @classmethod
    def of(cls, account: LoyaltyAccount, settings: CustomerSettings) -> LoyaltyOut:
        level, discount = level_for(account.earned_total, settings.loyalty_levels)
        return cls(
            customer_id=account.customer_id,
            balance=account.balance,
            earned_total=account.earned_total,
            level=level,
            discount_percent=discount,
            version=account.version,
        )


class Redemption(BaseModel):
    model_config = ConfigDict(extra="forbid")

    points: StrictInt = Field(gt=0, le=10_000_000)
    reason: Annotated[str, Trim(min_length=3, max_length=300)]


class EntryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    kind: str
    points: int
    balance_after: int
    reason: str
    actor: str | None
    created_at: datetime
