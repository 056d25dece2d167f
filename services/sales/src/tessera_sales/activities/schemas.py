from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StringConstraints

from tessera_sales.api import OwnerId
from tessera_shared.http.inputs import IsoAwareDatetime, Trim

ActivityKind = Literal["call", "meeting", "email", "visit", "note", "task"]
Subject = Annotated[str, Trim(min_length=1, max_length=300)]
Notes = Annotated[str, StringConstraints(max_length=10_000)]


class ActivityCreate(BaseModel):
    """Logged against at least one of customer, contact, lead or deal."""

    model_config = ConfigDict(extra="forbid")

    kind: ActivityKind
    subject: Subject
    notes: Notes | None = None
    customer_id: uuid.UUID | None = None
    contact_id: uuid.UUID | None = None
    lead_id: uuid.UUID | None = None
    deal_id: uuid.UUID | None = None
    owner_id: OwnerId | None = None
    occurred_at: IsoAwareDatetime | None = None
    due_at: IsoAwareDatetime | None = None
    remind_at: IsoAwareDatetime | None = None


class ActivityPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    subject: Subject | None = None
    notes: Notes | None = None
    due_at: IsoAwareDatetime | None = None
    remind_at: IsoAwareDatetime | None = None
    completed: StrictBool | None = None


class ActivityOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    kind: str
    subject: str
    notes: str | None
    customer_id: uuid.UUID | None
    contact_id: uuid.UUID | None
    lead_id: uuid.UUID | None
    deal_id: uuid.UUID | None
    owner_id: str | None
    occurred_at: datetime
    due_at: datetime | None
    remind_at: datetime | None
    reminded_at: datetime | None
    completed_at: datetime | None
    origin_key: str | None
    created_by: str
    created_at: datetime
    updated_at: datetime
    version: int


class OverdueOwner(BaseModel):
    owner_id: str | None
    overdue_tasks: int
    oldest_due_at: datetime


class OverdueReport(BaseModel):
    as_of: datetime
    owners: list[OverdueOwner]


class ReminderRun(BaseModel):
    as_of: datetime
    fired: int = Field(ge=0)
