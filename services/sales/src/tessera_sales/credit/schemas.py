from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict

from tessera_sales.api import MoneyOut
from tessera_shared.events.contracts.types import ExchangeRate


class DealCreditCheckOut(BaseModel):
    """The credit-limit check of a deal's win (docs/domain.md §10.1), in the limit's currency."""

    model_config = ConfigDict(from_attributes=True)

    deal_id: uuid.UUID
    customer_id: uuid.UUID
    credit_limit: MoneyOut
    exposure: MoneyOut
    # The deal's amount converted into the limit's currency.
    amount: MoneyOut
    currency: str
    # 1 deal currency = rate limit currency; null when the deal is in the limit's currency.
    exchange_rate: ExchangeRate | None
    fits: bool
    # The finance manager (or admin) who let the win past the limit; null when it fit.
    override_by: str | None
    # True once billing announced exposure with this deal's invoice in it.
    invoiced: bool
    checked_at: datetime
