"""POST /v1/tickets/search: the shared search language over tickets (issue 23, item 2).

Whoever reads the ticket list reads the search (the list has no owner rule). Free text is a
prefix of the subject.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request
from sqlalchemy import ColumnElement, select
from sqlmodel import col

from tessera_service_desk.api import TICKET_READERS, settings_of
from tessera_service_desk.custom_fields import CUSTOM_FIELDS
from tessera_service_desk.tickets.models import TAGS, Ticket
from tessera_service_desk.tickets.schemas import Status, TicketOut
from tessera_service_desk.tickets.views import ticket_out
from tessera_shared.auth import Principal, require_roles
from tessera_shared.custom_fields import PROPERTY_PATTERN
from tessera_shared.db import utcnow
from tessera_shared.deps import SessionDep
from tessera_shared.events.contracts.service_desk import Category, Priority
from tessera_shared.http.pagination import Page
from tessera_shared.search import Prop, Searchable, enum_values, run_search

router = APIRouter(prefix="/v1/tickets", tags=["tickets"])


def _subject(text: str) -> ColumnElement[bool]:
    return col(Ticket.subject).startswith(text, autoescape=True)


SEARCH = Searchable(
    resource="Ticket",
    id_column=col(Ticket.id),
    properties={
        "id": Prop(col(Ticket.id), "uuid", sortable=True),
        "customer_id": Prop(col(Ticket.customer_id), "uuid"),
        "status": Prop(col(Ticket.status), "enum", enum_values(Status), sortable=True),
        "priority": Prop(col(Ticket.priority), "enum", enum_values(Priority)),
        "category": Prop(col(Ticket.category), "enum", enum_values(Category)),
        "assignee_id": Prop(col(Ticket.assignee_id), "text", nullable=True),
        "group": Prop(col(Ticket.group_name), "text", nullable=True),
        "created_at": Prop(col(Ticket.created_at), "datetime", sortable=True),
        "tags": TAGS.prop(),
    },
    query=_subject,
    query_fields=("subject",),
    dynamic=PROPERTY_PATTERN,
    dynamic_doc="`custom_fields.<key>`: a ticket custom field, with the operators of its type "
    "(ranges for number, money and date; contains_token for a multi_enum value)",
)
TicketSearch = SEARCH.request_model


@router.post(
    "/search",
    response_model=Page[TicketOut],
    summary="Search tickets: filter groups (OR of ANDs), one sort, free text; keyset pages",
)
async def search_tickets(
    body: TicketSearch,  # type: ignore[valid-type]
    request: Request,
    session: SessionDep,
    _: Annotated[Principal, require_roles(*TICKET_READERS)],
) -> Page[TicketOut]:
    search = await CUSTOM_FIELDS.searchable(session, "ticket", SEARCH)
    rows, next_cursor = await run_search(session, search, select(Ticket), body)
    settings, now = settings_of(request), utcnow()
    return Page[TicketOut](items=[ticket_out(t, settings, now) for t in rows], next_cursor=next_cursor)
