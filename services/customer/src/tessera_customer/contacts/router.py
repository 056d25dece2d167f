"""Contacts: the named people at an organisation customer, with their buying role."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Request, Response

from tessera_customer.api import EDITORS, READERS, audit_read
from tessera_customer.contacts import service
from tessera_customer.contacts.schemas import ContactCreate, ContactOut, ContactPatch
from tessera_customer.custom_fields import CUSTOM_FIELDS
from tessera_customer.customers.models import Customer
from tessera_customer.customers.repository import load_customer
from tessera_customer.customers.service import ensure_may_change, refuse_if_erased
from tessera_shared.auth import Principal, require_roles
from tessera_shared.deps import SessionDep
from tessera_shared.http.etag import check_if_match, etag_for
from tessera_shared.http.idempotency import IdempotencyDep
from tessera_shared.http.pagination import Page, PageQuery
from tessera_shared.http.query import accepts_query_prefix

router = APIRouter(prefix="/v1/customers/{customer_id}/contacts", tags=["contacts"])


async def _writable(session: SessionDep, customer_id: uuid.UUID, principal: Principal) -> Customer:
    customer = await load_customer(session, customer_id)
    ensure_may_change(principal, customer)
    refuse_if_erased(customer)
    service.refuse_unless_organisation(customer)
    return customer


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
    contact = await service.add_contact(session, customer, body)
    out = ContactOut.model_validate(contact)
    return await idem.respond(
        201,
        out,
        headers={
            "Location": f"/v1/customers/{customer.id}/contacts/{contact.id}",
            "ETag": etag_for(contact.id, contact.version),
        },
    )


@router.get(
    "",
    response_model=Page[ContactOut],
    summary="List an organisation's contacts; ?custom_fields.<key>[op]=value filters on a custom field",
)
@accepts_query_prefix("custom_fields.")
async def list_contacts(
    request: Request,
    customer_id: uuid.UUID,
    session: SessionDep,
    page: PageQuery,
    principal: Annotated[Principal, require_roles(*READERS)],
) -> Page[ContactOut]:
    await load_customer(session, customer_id)
    audit_read(request, customer_id, principal, "read_contacts")
    where = await CUSTOM_FIELDS.list_filters(session, "contact", request.query_params.multi_items())
    rows, cursor = await service.list_contacts(session, customer_id, page, where)
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
    contact = await service.get_contact(session, customer_id, contact_id)
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
    customer = await _writable(session, customer_id, principal)
    contact = await service.get_contact(session, customer_id, contact_id)
    check_if_match(request, contact.id, contact.version)
    contact = await service.change_contact(session, customer, contact, body)
    response.headers["ETag"] = etag_for(contact.id, contact.version)
    return ContactOut.model_validate(contact)


@router.delete("/{contact_id}", status_code=204, summary="Remove a contact")
async def delete_contact(
    customer_id: uuid.UUID,
    contact_id: uuid.UUID,
    session: SessionDep,
    principal: Annotated[Principal, require_roles(*EDITORS)],
) -> Response:
    customer = await _writable(session, customer_id, principal)
    contact = await service.get_contact(session, customer_id, contact_id)
    await service.remove_contact(session, customer, contact)
    return Response(status_code=204)
