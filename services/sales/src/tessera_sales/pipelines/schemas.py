from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StringConstraints

from tessera_sales.api import Text200

Key = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$")]


class StageIn(BaseModel):
    """A stage, in the pipeline's order. Left out: ``key`` is made from the name, ``kind`` is open,
    ``probability`` is the stage's (won 100, lost 0; open stages spread by their place)."""

    model_config = ConfigDict(extra="forbid")

    key: Key | None = None
    name: Text200 | None = None
    probability: StrictInt | None = Field(default=None, ge=0, le=100)
    kind: Literal["open", "won", "lost"] | None = None
    archived: StrictBool | None = None


class PipelineCreate(BaseModel):
    """Without a won or a lost stage, the pipeline gets the standard ``won`` (Won, 100) and ``lost`` (Lost, 0)."""

    model_config = ConfigDict(extra="forbid")

    key: Key | None = None
    name: Text200
    stages: list[StageIn] = Field(min_length=1, max_length=50)


class PipelinePatch(BaseModel):
    """``stages`` is the whole new list in its new order: a stage left out is removed (409 while it
    holds deals; archive it instead), a new key is added, a known one takes the fields given."""

    model_config = ConfigDict(extra="forbid")

    name: Text200 | None = None
    stages: list[StageIn] | None = Field(default=None, min_length=1, max_length=50)
    archived: StrictBool | None = None


class StageOut(BaseModel):
    key: str
    name: str
    position: int
    probability: int
    kind: str
    archived: bool
    # Deals in the stage now (open or closed).
    deals: int


class PipelineOut(BaseModel):
    id: uuid.UUID
    key: str
    name: str
    is_default: bool
    archived: bool
    archived_at: datetime | None
    stages: list[StageOut]
    version: int
    created_by: str
    created_at: datetime
    updated_at: datetime


class PipelineList(BaseModel):
    items: list[PipelineOut]
