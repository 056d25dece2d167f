"""The answer of ``GET /v1/customers/{customer_id}/sales-summary``."""

from __future__ import annotations

import uuid

from pydantic import BaseModel, Field

from tessera_sales.api import MoneyOut
from tessera_sales.deals.schemas import DealOut


class CurrencyAmount(BaseModel):
    currency: str = Field(description="ISO 4217")
    amount: MoneyOut = Field(description="decimal string in the currency's minor units (2 for EUR, 0 for JPY)")


class SalesSummary(BaseModel):
    """One customer's deals as the caller may read them (a rep: their own), in one snapshot."""

    customer_id: uuid.UUID
    open_deals: list[DealOut] = Field(description="open deals in id order (at most 200), as in GET /v1/deals")
    recent_deals: list[DealOut] = Field(description="the 10 most recently updated deals, any stage")
    pipeline_value: list[CurrencyAmount] = Field(description="the sum of every open deal's amount, per currency")
    weighted_pipeline: list[CurrencyAmount] = Field(
        description="the sum of amount x probability / 100 over the open deals, per currency, rounded once at the end"
    )
    lifetime_won: list[CurrencyAmount] = Field(description="the sum of every won deal's amount, per currency")
    truncated: bool = Field(description="more open deals than listed; the sums cover all of them")
