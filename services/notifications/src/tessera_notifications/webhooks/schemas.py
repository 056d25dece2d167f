"""What the webhooks API reads and writes."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StringConstraints

from tessera_shared.http.inputs import IsoAwareDatetime

Url = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
EventType = Annotated[str, StringConstraints(min_length=1, max_length=100)]
EventTypes = Annotated[list[EventType], Field(min_length=1, max_length=200)]
Description = Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)]


class EndpointCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: Url = Field(description="Where deliveries are POSTed (https outside local mode; public addresses only)")
    event_types: EventTypes = Field(description="Published CloudEvents types (e.g. deal.won), or * for all")
    description: Description | None = None
    ordered: StrictBool = Field(
        default=False, description="One customer's deliveries one at a time, in the order of the events"
    )


class EndpointChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: Url | None = None
    event_types: EventTypes | None = None
    description: Description | None = None
    ordered: StrictBool | None = None
    enabled: StrictBool | None = Field(default=None, description="false pauses deliveries; true resumes them")


class EndpointOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    owner: str
    url: str
    description: str | None
    event_types: list[str]
    ordered: bool
    personal_data: bool = Field(
        description="Whether deliveries carry personal data: false for a partner's endpoint (the fields the "
        "event schemas mark x-personal arrive null, the envelope says redaction: personal)"
    )
    enabled: bool
    disabled_reason: str | None
    version: int
    created_at: datetime
    updated_at: datetime


class EndpointWithSecret(EndpointOut):
    secret: str = Field(description="The signing secret (whsec_...); shown only now")


class SecretOut(BaseModel):
    secret: str = Field(description="The new signing secret (whsec_...); shown only now")
    previous_secret_expires_at: datetime = Field(description="Until then the previous secret signs too")


class AttemptOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    number: int
    started_at: datetime
    finished_at: datetime | None
    status_code: int | None
    latency_ms: int | None
    response_body: str | None = Field(description="The first 1 KiB of the response body")
    error: str | None


class DeliveryOut(BaseModel):
    id: int
    endpoint_id: uuid.UUID
    webhook_id: str
    event_id: str
    event_type: str
    status: str = Field(description="pending, sending, delivered or failed")
    replay: bool
    attempts: list[AttemptOut]
    created_at: datetime
    next_attempt_at: datetime | None
    delivered_at: datetime | None


class ReplayIn(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    since: IsoAwareDatetime = Field(alias="from", description="Re-deliver every matching event since this time")


class ReplayOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    endpoint_id: uuid.UUID
    since: datetime
    status: str = Field(description="running, done or failed")
    enqueued: int
    error: str | None
    created_at: datetime
    finished_at: datetime | None
