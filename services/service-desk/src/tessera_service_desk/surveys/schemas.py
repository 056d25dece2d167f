from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictInt

from tessera_service_desk.api import NO_NUL
from tessera_shared.http.inputs import Trim


class SurveyAnswer(BaseModel):
    model_config = ConfigDict(extra="forbid")

    csat: StrictInt = Field(ge=1, le=5, description="Customer satisfaction, 1 (very unhappy) to 5 (very happy)")
    nps: StrictInt | None = Field(default=None, ge=0, le=10, description="How likely to recommend us, 0 to 10")
    comment: Annotated[str, Trim(max_length=5000, pattern=NO_NUL)] | None = None


class SurveyOut(BaseModel):
    """What the customer sees through the link: no internal data."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    ticket_id: uuid.UUID
    created_at: datetime
    answered_at: datetime | None
    csat: int | None
    nps: int | None
    comment: str | None


class SurveyStaffOut(SurveyOut):
    customer_id: uuid.UUID
    agent_id: str | None
    category: str
    survey_url: str
