from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated, ClassVar

from pydantic import BaseModel, ConfigDict

from tessera_billing.api import MoneyOut
from tessera_shared.http.inputs import Trim

Note = Annotated[str, Trim(min_length=1, max_length=1000)]


class WriteOffCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    invoice_id: uuid.UUID
    reason: Note


class WriteOffDecision(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: Note | None = None


class WriteOffOut(MoneyOut):
    money_fields: ClassVar[tuple[str, ...]] = ("amount",)

    id: uuid.UUID
    invoice_id: uuid.UUID
    customer_id: uuid.UUID
    currency: str
    amount: Decimal
    reason: str
    status: str
    requested_by: str
    decided_by: str | None
    decision_note: str | None
    requested_at: datetime
    decided_at: datetime | None
    version: int
