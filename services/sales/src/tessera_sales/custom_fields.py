"""Typed custom fields of deals and leads (issue 24 part 2), on ``tessera_shared.custom_fields``.

Sales owns the ``deal`` and ``lead`` definitions (``GET/POST /v1/custom-fields``,
``GET/PATCH /v1/custom-fields/{deal|lead}.{key}``, admins define and change them) and publishes
``custom_field.created``/``custom_field.updated`` on ``crm.sales``. Values live in the records'
``custom_fields`` column (JSONB on PostgreSQL, with one index per field built when it is
defined); lists filter on them (``?custom_fields.<key>=``), ``POST /v1/{deals,leads}/search``
takes ``custom_fields.<key>`` as a property, events and exports carry them, and a customer's
erasure clears the personal ones of its deals and leads.
"""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from tessera_sales.deals.models import Deal
from tessera_sales.leads.models import Lead
from tessera_sales.models import metadata
from tessera_shared.custom_fields import Bound, CustomFields, definitions_table
from tessera_shared.custom_fields.router import custom_fields_router
from tessera_shared.events.contracts import CustomerErased

DEFINITIONS = definitions_table(metadata)

CUSTOM_FIELDS = CustomFields(
    DEFINITIONS,
    producer="sales",
    entities={
        "deal": Bound(col(Deal.custom_fields), col(Deal.id)),
        "lead": Bound(col(Lead.custom_fields), col(Lead.id)),
    },
)

router = custom_fields_router(CUSTOM_FIELDS)


async def erase_personal_values(session: AsyncSession, data: CustomerErased) -> None:
    """The personal custom fields of the erased customer's deals and leads are cleared (the
    others stay, as the deals' amounts and stages do)."""
    for entity, model in (("deal", Deal), ("lead", Lead)):
        if not await CUSTOM_FIELDS.personal_keys(session, entity):
            continue
        rows = await session.execute(
            select(col(model.id), col(model.custom_fields)).where(col(model.customer_id) == data.customer_id)
        )
        for record_id, values in rows.all():
            kept = await CUSTOM_FIELDS.erase(session, entity, values)
            if kept != values:
                await session.execute(update(model).where(col(model.id) == record_id).values(custom_fields=kept))
