"""Reactions to the customer service's facts: the local copy (``tessera_shared.known_customers``),
merges, erasure, and tiers that re-tier open tickets.

A merge moves the merged customer's tickets and surveys to the survivor; an erasure removes
personal data (a ticket's subject, description and contact, its comments and escalation notices,
a survey's comment),
while categories, times, scores and counts stay for the reports."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import col

from tessera_service_desk.custom_fields import erase_personal_values
from tessera_service_desk.known_customers.models import KnownCustomer
from tessera_service_desk.settings import ServiceDeskSettings
from tessera_service_desk.sla.models import EscalationNotification
from tessera_service_desk.sla.service import apply_policy, refresh_due
from tessera_service_desk.surveys.models import Survey
from tessera_service_desk.tickets.models import Ticket, TicketComment
from tessera_service_desk.tickets.rules import OPEN_STATUSES
from tessera_shared.consumer import Batched
from tessera_shared.events.contracts import CustomerTierChanged
from tessera_shared.known_customers import ERASED, KnownCustomers, Repoint, Scrub


def _comments_of(customer_id: uuid.UUID) -> ColumnElement[bool]:
    tickets = select(col(Ticket.id)).where(col(Ticket.customer_id) == customer_id).scalar_subquery()
    return col(TicketComment.ticket_id).in_(tickets)


def _notifications_of(customer_id: uuid.UUID) -> ColumnElement[bool]:
    tickets = select(col(Ticket.id)).where(col(Ticket.customer_id) == customer_id).scalar_subquery()
    return col(EscalationNotification.ticket_id).in_(tickets)


KNOWN_CUSTOMERS = KnownCustomers(
    KnownCustomer,
    repoint=[Repoint(Ticket), Repoint(Survey)],
    scrubs=[
        Scrub(Ticket, {"subject": ERASED, "description": "", "contact_id": None}),
        Scrub(TicketComment, {"body": ERASED}, rows_of=_comments_of),
        Scrub(Survey, {"comment": None}),
        # An escalation notice quotes the escalation's reason.
        Scrub(EscalationNotification, {"message": ERASED}, rows_of=_notifications_of),
    ],
    # A ticket's personal custom fields (tessera_service_desk.custom_fields).
    on_erased=[erase_personal_values],
)

# Text columns that hold nothing personal about a customer (codes, states, staff ids), per table;
# every other text column of the desk's tables is scrubbed above (a unit test holds the two lists
# against the models: a new text column is one or the other). The knowledge base is not about a
# customer.
NOT_PERSONAL: dict[str, frozenset[str]] = {
    "tickets": frozenset(
        {
            "channel",
            "category",
            "priority",
            "requested_priority",
            "status",
            "breached_metrics",
            "assignee_id",
            "group_name",
            "service_level",
            "tier",
        }
    ),
    "ticket_comments": frozenset({"author_id", "author_kind"}),
    "ticket_status_changes": frozenset({"from_status", "to_status", "actor"}),
    "escalation_notifications": frozenset({"recipient_group"}),
    "sla_breaches": frozenset({"metric", "priority"}),
    "sla_policies": frozenset({"priority", "service_level", "tier"}),
    "surveys": frozenset({"agent_id", "category"}),
    "kb_articles": frozenset({"title", "body", "status", "author_id"}),
    "kb_article_tickets": frozenset({"linked_by"}),
    "known_customers": frozenset({"owner_id", "status", "tier", "service_level"}),
}
# Tags are the desk's labels of a ticket (tessera_shared.tags), not about the customer: kept.
NOT_PERSONAL["tickets"] = NOT_PERSONAL["tickets"] | {"tags"}
NOT_PERSONAL["ticket_tags"] = frozenset({"tag"})
# Custom field values: the personal ones are cleared on erasure (erase_personal_values), the others stay.
NOT_PERSONAL["tickets"] = NOT_PERSONAL["tickets"] | {"custom_fields"}
NOT_PERSONAL["custom_field_definitions"] = frozenset(
    {"entity", "key", "label", "type", "options", "description", "created_by"}
)

on_customer_created = KNOWN_CUSTOMERS.created()
on_customer_updated = KNOWN_CUSTOMERS.updated()
on_customer_merged = KNOWN_CUSTOMERS.merged
on_customer_erased = KNOWN_CUSTOMERS.erased


def tier_changed_handler(settings: ServiceDeskSettings) -> Batched[CustomerTierChanged]:
    """The shared copy keeps the newest tier; open tickets follow their customer's new tier: their
    SLA targets are resolved again (a value run moves many customers at once: one query for the run)."""

    async def retier_open_tickets(session: AsyncSession, changed: dict[uuid.UUID, CustomerTierChanged]) -> None:
        tickets = (
            (
                await session.execute(
                    select(Ticket)
                    .where(col(Ticket.customer_id).in_(changed), col(Ticket.status).in_(OPEN_STATUSES))
                    .order_by(col(Ticket.id))
                )
            )
            .scalars()
            .all()
        )
        for ticket in tickets:
            data = changed[ticket.customer_id]
            if ticket.tier == data.to_tier:
                continue
            ticket.tier = data.to_tier
            await apply_policy(session, ticket)
            await refresh_due(session, ticket, settings, max(data.changed_at, ticket.updated_at))
            ticket.version += 1

    return KNOWN_CUSTOMERS.tier_changed(retier_open_tickets)
