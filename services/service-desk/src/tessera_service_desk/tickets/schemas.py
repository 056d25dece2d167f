from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StringConstraints

from tessera_service_desk.api import NO_NUL
from tessera_shared.custom_fields import CustomFieldValues
from tessera_shared.errors import InvalidInput
from tessera_shared.events.contracts.service_desk import Category, Channel, Priority
from tessera_shared.http.inputs import Trim
from tessera_shared.tags import TagList

Status = Literal["new", "open", "pending", "on_hold", "solved", "closed"]
Subject = Annotated[str, Trim(min_length=1, max_length=300, pattern=NO_NUL)]
Description = Annotated[str, StringConstraints(max_length=20_000, pattern=NO_NUL)]
AgentId = Annotated[str, Trim(min_length=1, max_length=200, pattern=NO_NUL)]
GroupName = Annotated[str, Trim(min_length=1, max_length=100, pattern=NO_NUL)]


class TicketCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    customer_id: uuid.UUID
    subject: Subject
    priority: Priority = "normal"
    description: Description = ""
    contact_id: uuid.UUID | None = None
    channel: Channel = "web"
    category: Category = "inquiry"
    invoice_id: uuid.UUID | None = Field(default=None, description="Required for (and only for) billing_dispute")
    assignee_id: AgentId | None = None
    group: GroupName | None = None
    tags: TagList = Field(default_factory=list)
    custom_fields: CustomFieldValues | None = None

    def check(self) -> None:
        if self.category == "billing_dispute" and self.invoice_id is None:
            raise InvalidInput("invoice_id", "a billing_dispute must name the disputed invoice")
        if self.category != "billing_dispute" and self.invoice_id is not None:
            raise InvalidInput("invoice_id", "only a billing_dispute names an invoice")


class TicketPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    subject: Subject | None = None
    description: Description | None = None
    priority: Priority | None = None
    status: Status | None = None
    contact_id: uuid.UUID | None = None
    assignee_id: AgentId | None = None
    group: GroupName | None = None
    tags: TagList | None = Field(default=None, description="The ticket's whole new list of tags")
    custom_fields: CustomFieldValues | None = None

    def check(self) -> None:
        if not self.model_fields_set:
            raise InvalidInput("body", "name at least one field to change")
        for name in ("subject", "description", "priority", "status", "tags"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise InvalidInput(name, "may not be null")


class MetricOut(BaseModel):
    target_minutes: int | None
    state: Literal["running", "paused", "met", "breached", "not_applicable"]
    due_at: datetime | None
    remaining_business_minutes: float | None
    achieved_at: datetime | None


class SlaOut(BaseModel):
    business_hours: bool
    escalation_level: int
    breached: bool
    first_response: MetricOut
    next_response: MetricOut
    resolution: MetricOut


class TicketOut(BaseModel):
    id: uuid.UUID
    customer_id: uuid.UUID
    contact_id: uuid.UUID | None
    subject: str
    description: str
    channel: str
    category: str
    priority: str
    requested_priority: str
    status: str
    assignee_id: str | None
    group: str | None
    tags: list[str]
    custom_fields: dict[str, Any] = Field(default_factory=dict, description="typed custom field values by key")
    invoice_id: uuid.UUID | None
    service_level: str
    tier: str
    escalation_level: int
    first_response_at: datetime | None
    solved_at: datetime | None
    closed_at: datetime | None
    reopened_count: int
    allowed_transitions: list[str]
    created_at: datetime
    updated_at: datetime
    version: int


class HistoryItem(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    subject: str
    category: str
    priority: str
    status: str
    created_at: datetime
    closed_at: datetime | None


class ArticleRef(BaseModel):
    id: uuid.UUID
    title: str


class TicketDetail(TicketOut):
    sla: SlaOut
    # The customer's earlier problems (客户历史问题记录), newest first.
    history: list[HistoryItem]
    # Knowledge-base articles recorded as having solved this ticket.
    solved_by_articles: list[ArticleRef] = []
    survey_id: uuid.UUID | None = None
    survey_url: str | None = None


class CommentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    body: Annotated[str, Trim(min_length=1, max_length=20_000, pattern=NO_NUL)]
    public: StrictBool = True
    # Staff record a customer's message (phone, email) with author_kind "customer".
    author_kind: Literal["agent", "customer"] = "agent"

    def check(self) -> None:
        if self.author_kind == "customer" and not self.public:
            raise InvalidInput("public", "a customer's message is always public")


class CommentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    ticket_id: uuid.UUID
    author_id: str
    author_kind: str
    public: bool
    body: str
    created_at: datetime


class NotificationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    ticket_id: uuid.UUID
    level: int
    recipient_group: str
    message: str
    created_at: datetime


class EscalationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Annotated[str, Trim(min_length=1, max_length=500, pattern=NO_NUL)]


class JobRunOut(BaseModel):
    as_of: datetime
    processed: int
