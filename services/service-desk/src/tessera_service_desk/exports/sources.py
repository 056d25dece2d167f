"""What the service desk exports in bulk: tickets, to whoever reads the ticket list (which has no
owner rule), with the texts as the API shows them (an erasure scrubs them on the ticket)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement

from tessera_service_desk.api import TICKET_READERS
from tessera_service_desk.tickets.models import Ticket
from tessera_service_desk.tickets.search import SEARCH
from tessera_shared.auth import Principal
from tessera_shared.db import table_of
from tessera_shared.exports.sources import ExportField, ExportSource

TICKETS = table_of(Ticket)
T = TICKETS.c

TICKET_FIELDS = [
    ExportField("id", T.id),
    ExportField("customer_id", T.customer_id),
    ExportField("contact_id", T.contact_id),
    ExportField("subject", T.subject),
    ExportField("description", T.description),
    ExportField("channel", T.channel),
    ExportField("category", T.category),
    ExportField("priority", T.priority),
    ExportField("status", T.status),
    ExportField("assignee_id", T.assignee_id),
    ExportField("group_name", T.group_name),
    ExportField("tags", T.tags, "list"),
    ExportField("custom_fields", T.custom_fields, "json"),
    ExportField("invoice_id", T.invoice_id),
    ExportField("tier", T.tier),
    ExportField("escalation_level", T.escalation_level, "number"),
    ExportField("sla_breached", T.sla_breached, "bool"),
    ExportField("first_response_at", T.first_response_at, "time"),
    ExportField("solved_at", T.solved_at, "time"),
    ExportField("closed_at", T.closed_at, "time"),
    ExportField("created_at", T.created_at, "time"),
    ExportField("updated_at", T.updated_at, "time"),
]
TICKET_DEFAULT = tuple(f.name for f in TICKET_FIELDS if f.name != "description")


def _everyone(_: Principal) -> dict[str, Any]:
    return {}


def _no_scope(_: dict[str, Any]) -> list[ColumnElement[bool]]:
    return []


SOURCES = {
    "tickets": ExportSource(
        resource="tickets",
        table=TICKETS,
        key=T.id,
        fields=TICKET_FIELDS,
        default_fields=TICKET_DEFAULT,
        roles=frozenset(TICKET_READERS),
        scope=_everyone,
        conditions=_no_scope,
        search=SEARCH,
    )
}
