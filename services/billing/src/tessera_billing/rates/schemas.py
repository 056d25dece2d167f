from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from pydantic import BaseModel, ConfigDict

from tessera_billing.rates.models import ExchangeRate
from tessera_shared.events.contracts.types import ExchangeRate as Rate


class ExchangeRateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rate: Rate


class ExchangeRateOut(BaseModel):
    from_currency: str
    to_currency: str
    # 1 from_currency = rate to_currency.
    rate: Rate
    set_by: str
    set_at: datetime
    version: int

    @classmethod
    def of(cls, row: ExchangeRate) -> ExchangeRateOut:
        return cls(
            from_currency=row.from_currency,
            to_currency=row.to_currency,
            rate=Decimal(row.rate),
            set_by=row.set_by,
            set_at=row.set_at,
            version=row.version,
        )


class ExchangeRateList(BaseModel):
    items: list[ExchangeRateOut]
