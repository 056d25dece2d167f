from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from tessera_service_desk.api import (
    AGENTS,
    NO_NUL,
    TICKET_READERS,
    read_through_of,
    settings_of,
)
from tessera_service_desk.custom_fields import CUSTOM_FIELDS
from tessera_service_desk.tickets.models import Ticket
from tessera_service_desk.tickets.repository import TicketRepository
from tessera_service_desk.tickets.schemas import (
    CommentCreate,
    CommentOut,
    EscalationCreate,
    Status,
    TicketCreate,
    TicketDetail,
    TicketOut,
    TicketPatch,
)
from tessera_service_desk.tickets.service import add_comment, create_ticket, escalate_by_hand, update_ticket
from tessera_service_desk.tickets.views import ticket_detail, ticket_out
from tessera_shared.auth import Principal, Role, require_roles
from tessera_shared.db import utcnow
from tessera_shared.deps import SessionDep
from tessera_shared.errors import NotFound
from tessera_shared.events.contracts.service_desk import Category, Priority
from tessera_shared.http.etag import check_if_match, etag_for
from tessera_shared.http.idempotency import IdempotencyDep
from tessera_shared.http.pagination import Page, PageQuery
from tessera_shared.http.query import accepts_query_prefix

router = APIRouter(prefix="/v1/tickets", tags=["tickets"])

READERS = TICKET_READERS
# Internal notes stay inside the desk; other readers see the public conversation.
SEES_INTERNAL = frozenset({Role.ADMIN, Role.SUPPORT_AGENT, Role.SERVICE})


async def _ticket(session: SessionDep, ticket_id: uuid.UUID, *, for_update: bool = False) -> Ticket:
    ticket = await TicketRepository(session).get(ticket_id, for_update=for_update)
    if ticket is None:
        raise NotFound("ticket", ticket_id)
    return ticket


@router.post("", name="create_ticket", status_code=201, response_model=TicketOut, summary="Open a ticket")
async def create(
    body: TicketCreate,
    request: Request,
    session: SessionDep,
    idem: IdempotencyDep,
    principal: Annotated[Principal, require_roles(*AGENTS)],
) -> Response:
    await read_through_of(request)(body.customer_id)  # before the transaction opens (§10.2)
    if (replayed := await idem.begin(body)) is not None:
        return replayed
    now = utcnow()
    ticket = await create_ticket(session, body, principal, settings_of(request), now)
    return await idem.respond(
        201,
        ticket_out(ticket, settings_of(request), now),
        headers={"Location": f"/v1/tickets/{ticket.id}", "ETag": etag_for(ticket.id, ticket.version)},
    )


@router.get(
    "",
    response_model=Page[TicketOut],
    summary="List tickets (cursor pagination, filters); ?custom_fields.<key>[op]=value filters on a custom field",
)
@accepts_query_prefix("custom_fields.")
async def list_tickets(
    request: Request,
    session: SessionDep,
    page: PageQuery,
    _: Annotated[Principal, require_roles(*READERS)],
    customer_id: uuid.UUID | None = None,
    status: Status | None = None,
    priority: Priority | None = None,
    category: Category | None = None,
    assignee_id: Annotated[str | None, Query(max_length=200, pattern=NO_NUL)] = None,
    group: Annotated[str | None, Query(max_length=100, pattern=NO_NUL)] = None,
    tag: Annotated[str | None, Query(min_length=1, max_length=50, pattern=NO_NUL)] = None,
) -> Page[TicketOut]:
    rows, cursor = await TicketRepository(session).list(
        page,
        customer_id=customer_id,
        status=status,
        priority=priority,
        category=category,
        assignee_id=assignee_id,
        group=group,
        tag=tag,
        where=await CUSTOM_FIELDS.list_filters(session, "ticket", request.query_params.multi_items()),
    )
    now = utcnow()
    return Page[TicketOut](items=[ticket_out(t, settings_of(request), now) for t in rows], next_cursor=cursor)


@router.get(
    "/{ticket_id}",
    response_model=TicketDetail,
    summary="One ticket with its SLA clock and the customer's earlier tickets",
)
async def get_ticket(
    ticket_id: uuid.UUID,
    request: Request,
    session: SessionDep,
    response: Response,
    _: Annotated[Principal, require_roles(*READERS)],
) -> TicketDetail:
    ticket = await _ticket(session, ticket_id)
    response.headers["ETag"] = etag_for(ticket.id, ticket.version)
    return await ticket_detail(session, ticket, settings_of(request), utcnow())


@router.patch(
    "/{ticket_id}", response_model=TicketDetail, summary="Change a ticket (status machine enforced; If-Match honoured)"
)
async def patch_ticket(
    ticket_id: uuid.UUID,
    body: TicketPatch,
    request: Request,
    session: SessionDep,
    response: Response,
    principal: Annotated[Principal, require_roles(*AGENTS)],
) -> TicketDetail:
    ticket = await _ticket(session, ticket_id, for_update=True)
    check_if_match(request, ticket.id, ticket.version)
    now = utcnow()
    ticket = await update_ticket(session, ticket, body, principal, settings_of(request), now)
    response.headers["ETag"] = etag_for(ticket.id, ticket.version)
    return await ticket_detail(session, ticket, settings_of(request), now)


@router.post(
    "/{ticket_id}/escalations",
    response_model=TicketDetail,
    summary="Escalate by hand: level up, the next tier is notified (If-Match honoured)",
)
async def escalate_ticket(
    ticket_id: uuid.UUID,
    body: EscalationCreate,
    request: Request,
    session: SessionDep,
    response: Response,
    principal: Annotated[Principal, require_roles(*AGENTS)],
) -> TicketDetail:
    ticket = await _ticket(session, ticket_id, for_update=True)
    check_if_match(request, ticket.id, ticket.version)
    now = utcnow()
    await escalate_by_hand(session, ticket, f"{body.reason} (by {principal.subject})", settings_of(request), now)
    response.headers["ETag"] = etag_for(ticket.id, ticket.version)
    return await ticket_detail(session, ticket, settings_of(request), now)


@router.post(
    "/{ticket_id}/comments",
    status_code=201,
    response_model=CommentOut,
    summary="Add a public reply or an internal note",
)
async def create_comment(
    ticket_id: uuid.UUID,
    body: CommentCreate,
    request: Request,
    session: SessionDep,
    idem: IdempotencyDep,
    principal: Annotated[Principal, require_roles(*AGENTS)],
) -> Response:
    if (replayed := await idem.begin(body)) is not None:
        return replayed
    ticket = await _ticket(session, ticket_id, for_update=True)
    comment = await add_comment(session, ticket, body, principal, settings_of(request), utcnow())
    return await idem.respond(
        201,
        CommentOut.model_validate(comment),
        headers={
            "Location": f"/v1/tickets/{ticket.id}/comments/{comment.id}",
            "ETag": etag_for(ticket.id, ticket.version),
        },
    )


@router.get(
    "/{ticket_id}/comments",
    response_model=Page[CommentOut],
    summary="The conversation, oldest first (internal notes only for the desk)",
)
async def list_comments(
    ticket_id: uuid.UUID, session: SessionDep, page: PageQuery, principal: Annotated[Principal, require_roles(*READERS)]
) -> Page[CommentOut]:
    await _ticket(session, ticket_id)
    rows, cursor = await TicketRepository(session).comments(
        ticket_id, page, public_only=not principal.has_any(SEES_INTERNAL)
    )
    return Page[CommentOut](items=[CommentOut.model_validate(c) for c in rows], next_cursor=cursor)
