"""Batch read of tickets (issue 23): ``POST /v1/tickets/batch/read`` answers up to 1,000 tickets by
id in one query, as the list shows them; missing ids are listed in ``not_found``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request
from sqlalchemy import select
from sqlmodel import col

from tessera_service_desk.api import TICKET_READERS, settings_of
from tessera_service_desk.tickets.models import Ticket
from tessera_service_desk.tickets.schemas import TicketOut
from tessera_service_desk.tickets.views import ticket_out
from tessera_shared.auth import Principal, require_roles
from tessera_shared.db import utcnow
from tessera_shared.deps import SessionDep
from tessera_shared.http.batch import BatchRead, BatchReadResult

router = APIRouter(prefix="/v1/tickets/batch", tags=["tickets"])


@router.post("/read", response_model=BatchReadResult[TicketOut], summary="Read up to 1,000 tickets by id")
async def batch_read_tickets(
    request: Request,
    body: BatchRead,
    session: SessionDep,
    _: Annotated[Principal, require_roles(*TICKET_READERS)],
) -> BatchReadResult[TicketOut]:
    ids = list(dict.fromkeys(body.ids))
    found = {t.id: t for t in (await session.scalars(select(Ticket).where(col(Ticket.id).in_(ids)))).all()}
    settings, now = settings_of(request), utcnow()
    return BatchReadResult[TicketOut](
        items=[ticket_out(found[i], settings, now) for i in ids if i in found],
        not_found=[i for i in ids if i not in found],
    )
