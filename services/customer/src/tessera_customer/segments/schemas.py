from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from tessera_customer.customers.filters import SegmentFilter
from tessera_customer.segments.models import Segment
from tessera_shared.http.inputs import Trim

SegmentName = Annotated[str, Trim(min_length=1, max_length=200)]
Description = Annotated[str, Trim(max_length=1000)]


class SegmentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: SegmentName
    description: Description | None = None
    filters: SegmentFilter = Field(default_factory=SegmentFilter)


class SegmentPatch(BaseModel):
    """Fields to change; ``filters`` replaces the saved filters as a whole."""

    model_config = ConfigDict(extra="forbid")

    name: SegmentName | None = None
    description: Description | None = None
    filters: SegmentFilter | None = None

    @field_validator("name", "filters")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("may not be null")
        return value


class SegmentOut(BaseModel):
    id: uuid.UUID
    name: str
    description: str | None
    filters: dict[str, Any]
    created_by: str
    created_at: datetime
    updated_at: datetime
    version: int

    @classmethod
    def of(cls, s: Segment) -> SegmentOut:
        return cls(
            id=s.id,
            name=s.name,
            description=s.description,
            filters=s.filters,
            created_by=s.created_by,
            created_at=s.created_at,
            updated_at=s.updated_at,
            version=s.version,
        )
