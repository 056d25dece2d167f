"""Typed custom fields of customers and contacts (issue 24 part 2), on ``tessera_shared.custom_fields``.

The customer service owns the ``customer`` and ``contact`` definitions (``GET/POST
/v1/custom-fields``, ``GET/PATCH /v1/custom-fields/{customer|contact}.{key}``; admins define and
change them) and publishes ``custom_field.created``/``custom_field.updated`` on ``crm.customer``.
Values live in the records' ``custom_fields`` column (JSONB on PostgreSQL, one index per field
built when it is defined); the customer list filters on them (``?custom_fields.<key>=``),
``POST /v1/customers/search`` takes ``custom_fields.<key>``, customer.created/updated and the
contact events carry them, exports include them, and an erasure clears the personal ones of the
customer and of its contacts.

The untyped ``custom_attributes`` (deprecated: ``CUSTOM_ATTRIBUTES``) went into ``custom_fields``
by migration c5d8e2f1a934: every key in use became a ``personal`` definition (``text``; ``number``
or ``boolean`` when every value was one), since the attributes were erased with the customer.
A write that still sends ``custom_attributes`` has the keys that name a customer field moved into
``custom_fields`` (validated as such; a key also given in ``custom_fields`` keeps that value) and
the others kept as before, and is answered with ``Deprecation`` and ``Sunset``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlmodel import col

from tessera_customer.contacts.models import Contact
from tessera_customer.customers.models import Customer
from tessera_customer.models import metadata
from tessera_shared.custom_fields import Bound, CustomFields, definitions_table
from tessera_shared.custom_fields.router import custom_fields_router
from tessera_shared.http.deprecation import Deprecated

DEFINITIONS = definitions_table(metadata)

CUSTOM_FIELDS = CustomFields(
    DEFINITIONS,
    producer="customer",
    entities={
        "customer": Bound(col(Customer.custom_fields), col(Customer.id)),
        "contact": Bound(col(Contact.custom_fields), col(Contact.id)),
    },
)

router = custom_fields_router(CUSTOM_FIELDS)

CUSTOM_ATTRIBUTES = Deprecated(
    "custom_attributes on customers (custom_fields instead)",
    since=datetime(2026, 12, 5, 5, 30, tzinfo=UTC),
    sunset=datetime(2027, 6, 30, tzinfo=UTC),
)


def split_attributes(
    attributes: dict[str, Any] | None, defined: set[str], given: dict[str, Any] | None
) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """(the attributes kept as such, the custom field values to write): an attribute whose key
    is a defined customer field becomes that field's value unless ``given`` names the key."""
    if attributes is None:
        return None, given
    moved = {k: v for k, v in attributes.items() if k in defined}
    if not moved:
        return attributes, given
    kept = {k: v for k, v in attributes.items() if k not in defined}
    return kept, {**moved, **(given or {})}
