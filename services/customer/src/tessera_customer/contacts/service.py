"""Contact use cases: the named people at an organisation customer (flush only; the request commits)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from tessera_customer.contacts.models import Contact
from tessera_customer.contacts.schemas import ContactCreate, ContactPatch
from tessera_customer.custom_fields import CUSTOM_FIELDS
from tessera_customer.customers.models import Customer
from tessera_customer.customers.rules import normalise_email, normalise_phone
from tessera_customer.timeline import service as timeline
from tessera_shared.db import utcnow
from tessera_shared.errors import Conflict, NotFound
from tessera_shared.events.contracts import ContactChanges, ContactCreated, ContactDeleted, ContactUpdated
from tessera_shared.http.pagination import PageParams, paginate
from tessera_shared.outbox import publish

# What contact.updated tells of a contact: the fields a PATCH may change.
_ANNOUNCED = tuple(ContactChanges.model_fields)


def refuse_unless_organisation(customer: Customer) -> None:
    """Contacts belong to organisations: a person's are refused (409)."""
    if customer.kind != "organization":
        raise Conflict("only organisations have contacts")


async def get_contact(session: AsyncSession, customer_id: uuid.UUID, contact_id: uuid.UUID) -> Contact:
    contact = await session.get(Contact, contact_id)
    if contact is None or contact.customer_id != customer_id:
        raise NotFound("contact", contact_id, detail=f"contact {contact_id} not found for customer {customer_id}")
    return contact


async def list_contacts(
    session: AsyncSession, customer_id: uuid.UUID, page: PageParams, where: Sequence[Any] = ()
) -> tuple[list[Contact], str | None]:
    stmt = select(Contact).where(col(Contact.customer_id) == customer_id, *where)
    return await paginate(session, stmt, page, (col(Contact.id),))


async def add_contact(session: AsyncSession, customer: Customer, body: ContactCreate) -> Contact:
    custom_fields = await CUSTOM_FIELDS.values(session, "contact", body.custom_fields, creating=True)
    contact = Contact(
        customer_id=customer.id,
        custom_fields=custom_fields,
        name=body.name,
        title=body.title,
        department=body.department,
        email=normalise_email(body.email),
        phone=normalise_phone(body.phone),
        buying_role=body.buying_role,
    )
    session.add(contact)
    await session.flush()
    timeline.record(session, customer.id, "contact.added", f"Contact {contact.name} added", ref_id=contact.id)
    await publish(
        session,
        ContactCreated(
            contact_id=contact.id,
            customer_id=customer.id,
            owner_id=customer.owner_id,
            name=contact.name,
            title=contact.title,
            department=contact.department,
            email=contact.email,
            phone=contact.phone,
            buying_role=contact.buying_role,
            custom_fields=contact.custom_fields,
            created_at=contact.created_at,
        ),
        subject=customer.id,
    )
    return contact


async def change_contact(session: AsyncSession, customer: Customer, contact: Contact, body: ContactPatch) -> Contact:
    """Applies the fields given; contact.updated names those whose value moved (none: no event)."""
    given = body.model_fields_set
    before = {name: getattr(contact, name) for name in _ANNOUNCED}
    for field in ("name", "title", "department", "buying_role"):
        if field in given:
            setattr(contact, field, getattr(body, field))
    if "email" in given:
        contact.email = normalise_email(body.email)
    if "phone" in given:
        contact.phone = normalise_phone(body.phone)
    if "custom_fields" in given:
        # Merged into the contact's values (null clears a key); a new dict (not mutation-tracked).
        contact.custom_fields = await CUSTOM_FIELDS.values(
            session, "contact", body.custom_fields, contact.custom_fields, creating=False, record_id=contact.id
        )
    if given:
        contact.version += 1
        contact.updated_at = utcnow()
        changed = {name: getattr(contact, name) for name in _ANNOUNCED if getattr(contact, name) != before[name]}
        if changed:
            await publish(
                session,
                ContactUpdated(
                    contact_id=contact.id,
                    customer_id=customer.id,
                    owner_id=customer.owner_id,
                    changes=ContactChanges.model_validate(changed),
                    version=contact.version,
                    updated_at=contact.updated_at,
                ),
                subject=customer.id,
            )
        await session.flush()
    return contact


async def remove_contact(session: AsyncSession, customer: Customer, contact: Contact) -> None:
    await session.delete(contact)
    timeline.record(session, customer.id, "contact.removed", f"Contact {contact.name} removed", ref_id=contact.id)
    await publish(
        session,
        ContactDeleted(contact_id=contact.id, customer_id=customer.id, owner_id=customer.owner_id, deleted_at=utcnow()),
        subject=customer.id,
    )
