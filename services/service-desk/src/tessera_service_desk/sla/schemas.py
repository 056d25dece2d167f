from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StringConstraints

from tessera_shared.events.contracts.service_desk import Priority

Level = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=30, pattern=r"^[a-z0-9_]+$")]
TierOrAny = Literal["key", "ordinary", "small", "any"]
# Business minutes; a year of business hours is far beyond any real target.
Minutes = Annotated[StrictInt, Field(ge=1, le=525_600)]


class PolicyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    priority: Priority
    service_level: Level = Field(default="any", description='An agreement level, or "any"')
    tier: TierOrAny = "any"
    first_response_minutes: Minutes | None = None
    next_response_minutes: Minutes | None = None
    resolution_minutes: Minutes | None = None
    business_hours: StrictBool = Field(default=True, description="Count in the business calendar (false: 24x7)")


class PolicyPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    first_response_minutes: Minutes | None = None
    next_response_minutes: Minutes | None = None
    resolution_minutes: Minutes | None = None
    business_hours: StrictBool | None = None


class PolicyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    priority: str
    service_level: str
    tier: str
    first_response_minutes: int | None
    next_response_minutes: int | None
    resolution_minutes: int | None
    business_hours: bool
    created_at: datetime
    updated_at: datetime
    version: int


class AgreementPut(BaseModel):
    model_config = ConfigDict(extra="forbid")

    service_level: Level


class AgreementOut(BaseModel):
    customer_id: uuid.UUID
    service_level: str
    tier: str
