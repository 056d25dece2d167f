"""POST /v1/tickets/tags: tags added to and removed from many tickets at once (tessera_shared.tags).

Each ticket changes through the PATCH's use case (ticket.updated with ``changes.tags``); whoever
may PATCH a ticket may tag it.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Annotated

from fastapi import APIRouter, Request, Response

from tessera_service_desk.api import AGENTS, settings_of
from tessera_service_desk.tickets.models import Ticket
from tessera_service_desk.tickets.schemas import TicketPatch
from tessera_service_desk.tickets.service import update_ticket
from tessera_shared.auth import Principal, require_roles
from tessera_shared.db import utcnow
from tessera_shared.deps import SessionDep
from tessera_shared.http.batch import BatchUpsertResult
from tessera_shared.http.idempotency import IdempotencyDep
from tessera_shared.tags import BULK_RESPONSES, BulkTags, bulk_description, bulk_tag, locked_by_id

router = APIRouter(prefix="/v1/tickets", tags=["tickets"])


@router.post(
    "/tags",
    response_model=BatchUpsertResult,
    responses=BULK_RESPONSES,
    summary="Add and remove tags on up to 1,000 tickets",
    description=bulk_description("tickets"),
)
async def tag_tickets(
    body: BulkTags,
    request: Request,
    session: SessionDep,
    idem: IdempotencyDep,
    principal: Annotated[Principal, require_roles(*AGENTS)],
) -> Response:
    if (replayed := await idem.begin(body)) is not None:
        return replayed
    settings, now = settings_of(request), utcnow()

    async def load(ids: list[uuid.UUID]) -> Mapping[uuid.UUID, Ticket]:
        return await locked_by_id(session, Ticket, ids)

    async def change(ticket: Ticket, tags: list[str]) -> None:
        await update_ticket(session, ticket, TicketPatch(tags=tags), principal, settings, now)

    status, result = await bulk_tag(body, "ticket", load, change)
    return await idem.respond(status, result)
