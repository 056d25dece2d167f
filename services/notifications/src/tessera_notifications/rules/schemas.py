from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr

Op = Literal["eq", "ne", "gt", "gte", "lt", "lte", "in", "contains", "exists"]
RecipientKind = Literal["role", "owner", "assignee", "team", "team_lead", "escalation_team", "user"]
Channel = Literal["in_app", "email"]
EVENT_TYPE = r"^[a-z_]+\.[a-z_]+$"
NAME = r"^[^\x00]*$"


class Clause(BaseModel):
    model_config = ConfigDict(extra="forbid")

    field: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
    op: Op = "eq"
    # Values as text: "100000" compares as a number with an amount, "true" with a boolean;
    # for exists, "false" asks for the field to be absent.
    value: StrictStr | list[StrictStr] | None = Field(default=None, max_length=50)


class Recipient(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: RecipientKind
    # role: its name; user: the user name; team / team_lead: the team (team_lead without it: the
    # ticket's group); escalation_team: a list of teams by level (default: the configured ones).
    value: str | list[str] | None = Field(default=None)


class RuleCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200, pattern=NAME)
    event_type: str = Field(max_length=100, pattern=EVENT_TYPE)
    condition: list[Clause] = Field(default_factory=list, max_length=20)
    recipients: list[Recipient] = Field(min_length=1, max_length=20)
    channels: list[Channel] = Field(default_factory=lambda: list[Channel](["in_app"]), min_length=1, max_length=2)
    enabled: StrictBool = True


class RuleChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200, pattern=NAME)
    condition: list[Clause] | None = Field(default=None, max_length=20)
    recipients: list[Recipient] | None = Field(default=None, min_length=1, max_length=20)
    channels: list[Channel] | None = Field(default=None, min_length=1, max_length=2)
    enabled: StrictBool | None = None


class RuleOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    event_type: str
    condition: list[dict[str, Any]]
    recipients: list[dict[str, Any]]
    channels: list[str]
    enabled: bool
    shipped: bool
    version: int
    created_at: datetime
    updated_at: datetime
