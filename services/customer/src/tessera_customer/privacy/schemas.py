from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, StrictBool

from tessera_customer.privacy.models import Consent, ConsentRecord
from tessera_shared.http.inputs import Trim

Purpose = Literal["marketing_email", "sms", "phone", "profiling"]


class ConsentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    purpose: Purpose
    granted: StrictBool
    source: Annotated[str, Trim(min_length=2, max_length=100)]


class ConsentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    purpose: str
    granted: bool
    source: str
    recorded_at: datetime
    recorded_by: str


class ConsentsOut(BaseModel):
    customer_id: uuid.UUID
    current: list[ConsentOut]
    history: list[ConsentOut]

    @classmethod
    def of(cls, customer_id: uuid.UUID, current: Sequence[Consent], history: Sequence[ConsentRecord]) -> ConsentsOut:
        return cls(
            customer_id=customer_id,
            current=[ConsentOut.model_validate(c) for c in current],
            history=[ConsentOut.model_validate(h) for h in history],
        )
