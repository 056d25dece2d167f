from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel


class ChurnRiskOut(BaseModel):
    customer_id: uuid.UUID
    score: int
    at_risk: bool
    reasons: list[dict[str, object]]
    lost_deals: int
    lost_reasons: dict[str, int]
    as_of: datetime
