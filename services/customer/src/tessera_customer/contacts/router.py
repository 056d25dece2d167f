"""Contacts: the named people at an organisation customer, with their buying role."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Request, Response
from sqlalchemy import select
from sqlmodel import col

from tessera_customer.common import audit_read, load_customer, refuse_if_erased
from tessera_customer.contacts.models import Contact
from tessera_customer.contacts.schemas import ContactCreate, ContactOut, ContactPatch
from tessera_customer.customers.models import Customer
from tessera_customer.customers.router import EDITORS, READERS
from tessera_customer.customers.rules import normalise_email, normalise_phone
from tessera_customer.customers.service import ensure_may_change
from tessera_customer.timeline import service as timeline
from tessera_shared.auth import Principal, require_roles
from tessera_shared.db import utcnow
from tessera_shared.deps import SessionDep
from tessera_shared.http.errors import Problem
from tessera_shared.http.etag import check_if_match, etag_for
from tessera_shared.http.idempotency import IdempotencyDep
from tessera_shared.http.pagination import Page, PageQuery, paginate

router = APIRouter(prefix="/v1/customers/{customer_id}/contacts", tags=["contacts"])


async def _writable(session: SessionDep, customer_id: uuid.UUID, principal: Principal) -> Customer:
    customer = await load_customer(session, customer_id)
    ensure_may_change(principal, customer)
    refuse_if_erased(customer)
    if customer.kind != "organization":
        raise Problem(409, "only organisations have contacts", slug="conflict")
    return customer


async def _contact(session: SessionDep, customer_id: uuid.UUID, contact_id: uuid.UUID) -> Contact:
    contact = await session.get(Contact, contact_id)
    if contact is None or contact.customer_id != customer_id:
        raise Problem(404, f"contact {contact_id} not found for customer {customer_id}")
    return contact


@router.post("", status_code=201, response_model=ContactOut, summary="Add a contact to an organisation")
async def create_contact(
    customer_id: uuid.UUID,
    body: ContactCreate,
    session: SessionDep,
    idem: IdempotencyDep,
    principal: Annotated[Principal, require_roles(*EDITORS)],
) -> Response:
    customer = await _writable(session, customer_id, principal)
    if (replayed := await idem.begin(body)) is not None:
        return replayed
    contact = Contact(
        customer_id=customer.id,
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
    out = ContactOut.model_validate(contact)
    return await idem.respond(
        201,
        out,
        headers={
            "Location": f"/v1/customers/{customer.id}/contacts/{contact.id}",
            "ETag": etag_for(contact.id, contact.version),
        },
    )


@router.get("", response_model=Page[ContactOut], summary="List an organisation's contacts")
async def list_contacts(
    request: Request,
    customer_id: uuid.UUID,
    session: SessionDep,
    page: PageQuery,
    principal: Annotated[Principal, require_roles(*READERS)],
) -> Page[ContactOut]:
    await load_customer(session, customer_id)
    audit_read(request, customer_id, principal, "read_contacts")
    stmt = select(Contact).where(col(Contact.customer_id) == customer_id)
    rows, cursor = await paginate(session, stmt, page, (col(Contact.id),))
    return Page[ContactOut](items=[ContactOut.model_validate(r) for r in rows], next_cursor=cursor)


@router.get("/{contact_id}", response_model=ContactOut, summary="Get one contact")
async def get_contact(
    request: Request,
    customer_id: uuid.UUID,
    contact_id: uuid.UUID,
    session: SessionDep,
    response: Response,
    principal: Annotated[Principal, require_roles(*READERS)],
) -> ContactOut:
    await load_customer(session, customer_id)
    contact = await _contact(session, customer_id, contact_id)
    audit_read(request, customer_id, principal, "read_contacts")
    response.headers["ETag"] = etag_for(contact.id, contact.version)
    return ContactOut.model_validate(contact)


@router.patch("/{contact_id}", response_model=ContactOut, summary="Change a contact (If-Match honoured)")
async def patch_contact(
    customer_id: uuid.UUID,
    contact_id: uuid.UUID,
    body: ContactPatch,
    request: Request,
    session: SessionDep,
    response: Response,
    principal: Annotated[Principal, require_roles(*EDITORS)],
) -> ContactOut:
    await _writable(session, customer_id, principal)
    contact = await _contact(session, customer_id, contact_id)
    check_if_match(request, contact.id, contact.version)
    given = body.model_fields_set
    for field in ("name", "title", "department", "buying_role"):
        if field in given:
            setattr(contact, field, getattr(body, field))
    if "email" in given:
        contact.email = normalise_email(body.email)
    if "phone" in given:
        contact.phone = normalise_phone(body.phone)
    if given:
        contact.version += 1
        contact.updated_at = utcnow()
        await session.flush()
    response.headers["ETag"] = etag_for(contact.id, contact.version)
    return ContactOut.model_validate(contact)


@router.delete("/{contact_id}", status_code=204, summary="Remove a contact")
async def delete_contact(
    customer_id: uuid.UUID,
    contact_id: uuid.UUID,
    session: SessionDep,
    principal: Annotated[Principal, require_roles(*EDITORS)],
) -> Response:
    await _writable(session, customer_id, principal)
    contact = await _contact(session, customer_id, contact_id)
    await session.delete(contact)
    timeline.record(session, customer_id, "contact.removed", f"Contact {contact.name} removed", ref_id=contact.id)
    return Response(status_code=204)
