"""``GET /v1/customers/{customer_id}/service-summary``: the desk's part of the customer 360 view in one read.

Internal: the gateway's 360 view reads it with the caller's token. The gateway forwards
``/api/v1/customers/...`` to the customer service, so this path is not public and is not in
the gateway's merged OpenAPI document. One read-only transaction (one snapshot) answers it,
with the rules of ``GET /v1/tickets`` (the same roles; no owner rule) and, for the latest
CSAT, those of the staff survey read.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Request

from tessera_service_desk.api import SURVEY_STAFF_READERS, TICKET_READERS, settings_of
from tessera_service_desk.summary import service
from tessera_service_desk.summary.schemas import ServiceSummary
from tessera_service_desk.tickets.views import ticket_out
from tessera_shared.auth import Principal, require_roles
from tessera_shared.db import read_session, utcnow

router = APIRouter(prefix="/v1/customers", tags=["tickets"])

# Who reads GET /v1/tickets reads the summary; the last CSAT only who may read a survey's answer.
READERS = TICKET_READERS
SURVEY_READERS = SURVEY_STAFF_READERS
OPEN_LISTED = 200
RECENT = 10


@router.get(
    "/{customer_id}/service-summary",
    response_model=ServiceSummary,
    summary="One customer's open and recent tickets, escalations and latest CSAT in one read",
    description="Internal (the gateway's 360 view); the roles of `GET /v1/tickets`. `last_csat` is null "
    "for a role that may not read surveys; an unknown customer has empty lists.",
)
async def get_service_summary(
    customer_id: uuid.UUID,
    request: Request,
    principal: Annotated[Principal, require_roles(*READERS)],
) -> ServiceSummary:
    settings, now = settings_of(request), utcnow()
    async with read_session(request.app.state.runtime.sessions, snapshot=True) as session:
        listed = await service.open_tickets(session, customer_id, OPEN_LISTED + 1)
        recent = await service.recent_tickets(session, customer_id, RECENT)
        escalated = await service.escalated_count(session, customer_id)
        csat = await service.last_csat(session, customer_id) if principal.has_any(SURVEY_READERS) else None
        # Inside the transaction: its end expires the rows read.
        return ServiceSummary(
            customer_id=customer_id,
            open_tickets=[ticket_out(t, settings, now) for t in listed[:OPEN_LISTED]],
            recent_tickets=[ticket_out(t, settings, now) for t in recent],
            escalated=escalated,
            last_csat=csat,
            truncated=len(listed) > OPEN_LISTED,
        )
