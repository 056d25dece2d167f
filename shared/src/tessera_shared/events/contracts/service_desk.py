"""Facts published by the service desk on ``crm.service-desk`` (key: the customer id)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field

from tessera_shared.events.contracts.types import Changes, Personal
from tessera_shared.events.envelope import EventData

Priority = Literal["low", "normal", "high", "urgent"]
Channel = Literal["phone", "email", "web", "chat", "in_person"]
Category = Literal["inquiry", "complaint", "fault", "request", "billing_dispute"]
TicketStatus = Literal["new", "open", "pending", "on_hold", "solved", "closed"]
SlaMetric = Literal["first_response", "next_response", "resolution"]


class ServiceDeskEvent(EventData):
    producer: ClassVar[str] = "service-desk"


class TicketOpened(ServiceDeskEvent):
    event_type: ClassVar[str] = "ticket.opened"

    ticket_id: uuid.UUID
    customer_id: uuid.UUID
    subject: Annotated[str, Personal]
    channel: Channel
    category: Category
    priority: Priority
    # Set for billing disputes: billing pauses dunning for it while the ticket is open.
    invoice_id: uuid.UUID | None = None
    # The ticket's tags, sorted (issue 24 part 3; absent from events published before).
    tags: list[str] = Field(default_factory=list)
    # The ticket's typed custom field values by key (issue 24 part 2; absent from events published before).
    custom_fields: Annotated[dict[str, Any], Personal] = Field(default_factory=dict)
    opened_at: datetime


class TicketEscalated(ServiceDeskEvent):
    event_type: ClassVar[str] = "ticket.escalated"

    ticket_id: uuid.UUID
    customer_id: uuid.UUID
    level: int = Field(ge=1)
    reason: Annotated[str, Personal]
    priority: Priority
    escalated_at: datetime


class SlaBreached(ServiceDeskEvent):
    event_type: ClassVar[str] = "sla.breached"

    ticket_id: uuid.UUID
    customer_id: uuid.UUID
    metric: SlaMetric
    priority: Priority
    due_at: datetime
    breached_at: datetime


class TicketClosed(ServiceDeskEvent):
    event_type: ClassVar[str] = "ticket.closed"

    ticket_id: uuid.UUID
    customer_id: uuid.UUID
    category: Category
    priority: Priority
    invoice_id: uuid.UUID | None = None
    sla_breached: bool = False
    opened_at: datetime
    closed_at: datetime
    # The satisfaction survey made in the closing transaction and the customer's link to it (the
    # gateway's public survey route, its token included: what the notifications service e-mails).
    survey_id: uuid.UUID | None = None
    survey_url: str | None = None


class TicketChanges(Changes):
    """The fields of a ticket a change set (new values). A move to ``closed`` is not among them:
    that is ``ticket.closed``."""

    subject: Annotated[str | None, Personal] = None
    description: Annotated[str | None, Personal] = None
    priority: Priority | None = None
    status: TicketStatus | None = None
    contact_id: uuid.UUID | None = None
    assignee_id: str | None = None
    group: str | None = None
    # The whole new list when the tags changed.
    tags: list[str] | None = None
    # The whole new object of custom field values when one changed.
    custom_fields: Annotated[dict[str, Any] | None, Personal] = None


class TicketUpdated(ServiceDeskEvent):
    """A ticket's fields changed (``PATCH /v1/tickets/{id}``, or a comment that moved its status);
    not published when nothing changed."""

    event_type: ClassVar[str] = "ticket.updated"

    ticket_id: uuid.UUID
    customer_id: uuid.UUID
    changes: TicketChanges
    version: int = Field(ge=1)
    updated_by: str
    updated_at: datetime


class TicketCommented(ServiceDeskEvent):
    """A comment was added to a ticket: a public reply, a customer's message, or an internal note.
    Its text is not carried (it is read through the desk, under its rules); a status the comment
    moved is ``ticket.updated`` beside it."""

    event_type: ClassVar[str] = "ticket.commented"

    ticket_id: uuid.UUID
    customer_id: uuid.UUID
    comment_id: uuid.UUID
    author_kind: Literal["agent", "customer"]
    public: bool
    commented_at: datetime


class SurveyAnswered(ServiceDeskEvent):
    event_type: ClassVar[str] = "survey.answered"

    survey_id: uuid.UUID
    ticket_id: uuid.UUID
    customer_id: uuid.UUID
    csat: int = Field(ge=1, le=5)
    nps: int | None = Field(default=None, ge=0, le=10)
    comment: Annotated[str | None, Personal] = None
    answered_at: datetime
