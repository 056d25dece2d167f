"""The answer of ``GET /v1/customers/{customer_id}/service-summary``."""

from __future__ import annotations

import uuid

from pydantic import BaseModel, Field

from tessera_service_desk.tickets.schemas import TicketOut


class ServiceSummary(BaseModel):
    """One customer's tickets and latest satisfaction score, in one snapshot."""

    customer_id: uuid.UUID
    open_tickets: list[TicketOut] = Field(description="open tickets in id order (at most 200), as in GET /v1/tickets")
    recent_tickets: list[TicketOut] = Field(description="the 10 most recently updated tickets, any status")
    escalated: int = Field(description="the customer's tickets ever escalated (level > 0), any status, all counted")
    last_csat: int | None = Field(
        description="CSAT (1-5) of the customer's latest answered survey; null when none was answered, "
        "or for a role that may not read surveys"
    )
    truncated: bool = Field(description="more open tickets than listed")
