from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field, StringConstraints

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Phone = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^\+?[0-9 ()./-]{5,40}$")]
Tag = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50)]


class CustomerCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["person", "organization"]
    name: Name
    email: EmailStr | None = None
    phone: Phone | None = None
    owner_id: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = None
    tags: list[Tag] = Field(default_factory=list, max_length=50)


class CustomerOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    kind: str
    name: str
    email: str | None
    phone: str | None
    owner_id: str | None
    status: str
    tags: list[str]
    created_at: datetime
    updated_at: datetime
    version: int
