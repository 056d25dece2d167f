"""Typed custom fields of tickets (issue 24 part 2), on ``tessera_shared.custom_fields``.

The service desk owns the ``ticket`` definitions (``GET/POST /v1/custom-fields``,
``GET/PATCH /v1/custom-fields/ticket.{key}``; admins define and change them) and publishes
``custom_field.created``/``custom_field.updated`` on ``crm.service-desk``. Values live in
``tickets.custom_fields`` (JSONB on PostgreSQL, one index per field built when it is defined);
the ticket list filters on them (``?custom_fields.<key>=``), ``POST /v1/tickets/search`` takes
``custom_fields.<key>``, ticket.opened and ticket.updated carry them, exports include them, and a
customer's erasure clears the personal ones of its tickets.
"""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from tessera_service_desk.models import metadata
from tessera_service_desk.tickets.models import Ticket
from tessera_shared.custom_fields import Bound, CustomFields, definitions_table
from tessera_shared.custom_fields.router import custom_fields_router
from tessera_shared.events.contracts import CustomerErased

DEFINITIONS = definitions_table(metadata)

CUSTOM_FIELDS = CustomFields(
    DEFINITIONS,
    producer="service-desk",
    entities={"ticket": Bound(col(Ticket.custom_fields), col(Ticket.id))},
)

router = custom_fields_router(CUSTOM_FIELDS)


async def erase_personal_values(session: AsyncSession, data: CustomerErased) -> None:
    """The personal custom fields of the erased customer's tickets are cleared (the others stay)."""
    if not await CUSTOM_FIELDS.personal_keys(session, "ticket"):
        return
    rows = await session.execute(
        select(col(Ticket.id), col(Ticket.custom_fields)).where(col(Ticket.customer_id) == data.customer_id)
    )
    for ticket_id, values in rows.all():
        kept = await CUSTOM_FIELDS.erase(session, "ticket", values)
        if kept != values:
            await session.execute(update(Ticket).where(col(Ticket.id) == ticket_id).values(custom_fields=kept))
