from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from pydantic import BaseModel, ConfigDict


class CreditProfileOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    customer_id: uuid.UUID
    customer_name: str
    rating: str
    credit_limit: Decimal
    currency: str
    payment_terms_days: int
    created_at: datetime
    updated_at: datetime
    version: int
