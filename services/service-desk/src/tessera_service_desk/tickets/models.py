from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Column, ForeignKey, Index, Integer, String, Text
from sqlmodel import Field

from tessera_service_desk.models import Base
from tessera_shared.custom_fields import custom_fields_column
from tessera_shared.db import JSONType, UTCDateTime, new_id, utcnow
from tessera_shared.tags import TagIndex, tag_table


def _at(nullable: bool = False) -> Column[datetime]:
    return Column(UTCDateTime(), nullable=nullable)


class Ticket(Base, table=True):
    __tablename__ = "tickets"
    __table_args__ = (
        Index("ix_tickets_customer_id_id", "customer_id", "id"),
        Index("ix_tickets_status_id", "status", "id"),
        Index("ix_tickets_assignee_id_id", "assignee_id", "id"),
        # The breach job reads only tickets whose next due time has come.
        Index("ix_tickets_next_sla_due_at", "next_sla_due_at"),
        # What POST /v1/tickets/search filters and sorts by; the subject's prefix (pattern ops).
        Index("ix_tickets_priority_id", "priority", "id"),
        Index("ix_tickets_category_id", "category", "id"),
        Index("ix_tickets_group_name_id", "group_name", "id"),
        Index("ix_tickets_created_at_id", "created_at", "id"),
        Index("ix_tickets_subject", "subject", postgresql_ops={"subject": "varchar_pattern_ops"}),
    )

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    customer_id: uuid.UUID = Field(nullable=False)
    contact_id: uuid.UUID | None = Field(default=None, nullable=True)
    subject: str = Field(sa_column=Column(String(300), nullable=False))
    description: str = Field(default="", sa_column=Column(Text, nullable=False))
    channel: str = Field(sa_column=Column(String(20), nullable=False))
    category: str = Field(sa_column=Column(String(20), nullable=False))
    priority: str = Field(sa_column=Column(String(10), nullable=False))
    requested_priority: str = Field(sa_column=Column(String(10), nullable=False))
    status: str = Field(default="new", sa_column=Column(String(10), nullable=False))
    assignee_id: str | None = Field(default=None, sa_column=Column(String(200), nullable=True))
    group_name: str | None = Field(default=None, sa_column=Column(String(100), nullable=True))
    # Sorted, each once; ticket_tags holds one row per tag for the list filter (tessera_shared.tags).
    tags: list[str] = Field(default_factory=list, sa_column=Column(JSONType, nullable=False, server_default="[]"))
    # Typed custom field values by key (tessera_service_desk.custom_fields; JSONB on PostgreSQL).
    custom_fields: dict[str, Any] = Field(default_factory=dict, sa_column=custom_fields_column())
    invoice_id: uuid.UUID | None = Field(default=None, nullable=True)
    service_level: str = Field(default="standard", sa_column=Column(String(30), nullable=False))
    tier: str = Field(default="ordinary", sa_column=Column(String(20), nullable=False))
    escalation_level: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    # The policy's targets, resolved when the ticket opened (and again on tier or priority change).
    first_response_minutes: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    next_response_minutes: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    resolution_minutes: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    business_hours: bool = Field(default=True, sa_column=Column(Boolean, nullable=False))
    first_response_at: datetime | None = Field(default=None, sa_column=_at(True))
    awaiting_reply_since: datetime | None = Field(default=None, sa_column=_at(True))
    solved_at: datetime | None = Field(default=None, sa_column=_at(True))
    closed_at: datetime | None = Field(default=None, sa_column=_at(True))
    reopened_count: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    public_reply_count: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    # Metrics breached and not yet answered (next_response leaves it with the agent's reply).
    breached_metrics: list[str] = Field(default_factory=list, sa_column=Column(JSONType, nullable=False))
    # Ever breached: what ticket.closed and the ticket view report.
    sla_breached: bool = Field(default=False, sa_column=Column(Boolean, nullable=False))
    next_sla_due_at: datetime | None = Field(default=None, sa_column=_at(True))
    created_at: datetime = Field(default_factory=utcnow, sa_column=_at())
    updated_at: datetime = Field(default_factory=utcnow, sa_column=_at())
    version: int = Field(default=1, nullable=False)


TICKET_TAGS = tag_table(Base.metadata, "ticket_tags", "tickets", "ticket_id")
TAGS = TagIndex(TICKET_TAGS, Ticket.id)


class TicketStatusChange(Base, table=True):
    """Every status change is kept: the SLA clock is rebuilt from these rows."""

    __tablename__ = "ticket_status_changes"
    __table_args__ = (Index("ix_ticket_status_changes_ticket_id_at", "ticket_id", "at"),)

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    ticket_id: uuid.UUID = Field(sa_column=Column(ForeignKey("tickets.id"), nullable=False))
    from_status: str = Field(sa_column=Column(String(10), nullable=False))
    to_status: str = Field(sa_column=Column(String(10), nullable=False))
    actor: str = Field(sa_column=Column(String(200), nullable=False))
    at: datetime = Field(default_factory=utcnow, sa_column=_at())


class TicketComment(Base, table=True):
    __tablename__ = "ticket_comments"
    __table_args__ = (Index("ix_ticket_comments_ticket_id_id", "ticket_id", "id"),)

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    ticket_id: uuid.UUID = Field(sa_column=Column(ForeignKey("tickets.id"), nullable=False))
    author_id: str = Field(sa_column=Column(String(200), nullable=False))
    # agent: written by staff; customer: the customer's message, recorded by staff or a channel.
    author_kind: str = Field(sa_column=Column(String(10), nullable=False))
    public: bool = Field(sa_column=Column(Boolean, nullable=False))
    body: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=_at())
