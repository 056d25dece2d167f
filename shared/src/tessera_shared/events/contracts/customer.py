"""Facts published by the customer service on ``crm.customer``."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import ClassVar, Literal

from pydantic import Field

from tessera_shared.events.envelope import EventData


class CustomerCreated(EventData):
    event_type: ClassVar[str] = "customer.created"
    producer: ClassVar[str] = "customer"

    customer_id: uuid.UUID
    kind: Literal["person", "organization"]
    name: str = Field(max_length=200)
    email: str | None = None
    owner_id: str | None = None
    status: str
    created_at: datetime
