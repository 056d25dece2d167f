"""Batch upsert and batch read of customers and contacts (issue 23, item 1).

``POST /v1/customers/batch/upsert`` finds each input's customer by ``external_id``, ``email`` or
``id`` with one SELECT for the whole batch, inserts the new ones with one multi-row INSERT (their
tags, timeline lines and customer.created outbox rows too, as the bulk import does) and changes the
existing ones with the single PATCH's use case, so every change publishes the event a single write
would, once. Each input is decided on its own: rules are checked before anything of it is written,
so a refused input leaves no trace and does not hold up the others. Contacts
(``POST /v1/contacts/batch/upsert``) go one by one through the single writes' use cases.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Request, Response
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from tessera_customer.api import EDITORS, READERS, WRITERS, audit_read
from tessera_customer.contacts import service as contacts
from tessera_customer.contacts.models import Contact
from tessera_customer.contacts.schemas import ContactCreate, ContactOut, ContactPatch
from tessera_customer.custom_fields import CUSTOM_FIELDS
from tessera_customer.customers.answer import customer_json, uuid_text
from tessera_customer.customers.models import TAGS, Customer
from tessera_customer.customers.repository import CustomerMerged, live_customer_rows
from tessera_customer.customers.rules import may_own, may_reassign, normalise_email, normalise_phone
from tessera_customer.customers.schemas import CustomerCreate, CustomerOut, CustomerPatch
from tessera_customer.customers.service import (
    apply_patch,
    created_event,
    custom_field_input,
    ensure_may_change,
    mark_updated,
    record_fields,
    refuse_if_erased,
    updated_event,
    updated_line,
)
from tessera_customer.teams import KNOWN_TEAMS, team_of_new
from tessera_customer.timeline import service as timeline
from tessera_customer.timeline.models import TimelineEntry
from tessera_shared.auth import Principal, Role, require_roles
from tessera_shared.custom_fields.claims import BatchClaims
from tessera_shared.db import new_id, utcnow
from tessera_shared.db.bulk import insert_many
from tessera_shared.deps import ReadSessionDep, SessionDep
from tessera_shared.errors import Conflict, Forbidden, InvalidInput, NotFound
from tessera_shared.http.batch import (
    BatchRead,
    BatchReadResult,
    BatchUpsert,
    BatchUpsertResult,
    Outcomes,
    check_given_id,
    first_of_each,
    key_of,
    without,
)
from tessera_shared.http.idempotency import IdempotencyDep
from tessera_shared.outbox import outbox_row, publish_many
from tessera_shared.teams import Team

customers_router = APIRouter(prefix="/v1/customers/batch", tags=["customers"])
contacts_router = APIRouter(prefix="/v1/contacts/batch", tags=["contacts"])
routers = [customers_router, contacts_router]

CUSTOMERS = Customer.__table__
BATCH_RESPONSES: dict[int | str, dict[str, Any]] = {
    207: {"model": BatchUpsertResult, "description": "some inputs failed: each one's problem is in its result"}
}


class BatchContactOut(ContactOut):
    external_id: str | None


# --- customers ---------------------------------------------------------------------------------


async def _existing_customers(session: AsyncSession, id_property: str, keys: list[Any]) -> dict[Any, list[Customer]]:
    column = {"external_id": Customer.external_id, "email": Customer.email, "id": Customer.id}[id_property]
    stmt = select(Customer).where(col(column).in_(keys))
    if id_property == "email":  # a merged customer's record lives on in its survivor
        stmt = stmt.where(col(Customer.merged_into_id).is_(None))
    found: dict[Any, list[Customer]] = {}
    # Locked: a concurrent single write or batch changes these rows after this one, not in between.
    for customer in (await session.scalars(stmt.order_by(col(Customer.id)).with_for_update())).all():
        found.setdefault(getattr(customer, id_property), []).append(customer)
    return found


def _check_update(principal: Principal, customer: Customer, record: dict[str, Any], patch: CustomerPatch) -> None:
    """Every rule of the single PATCH, checked before anything is written."""
    if customer.merged_into_id is not None:
        raise CustomerMerged(customer.id, customer.merged_into_id)
    ensure_may_change(principal, customer)
    refuse_if_erased(customer)
    if "kind" in record and record["kind"] != customer.kind:
        raise InvalidInput("kind", "a customer's kind cannot be changed")
    if "external_id" in record and record["external_id"] != customer.external_id:
        raise InvalidInput("external_id", "a customer's external_id cannot be changed by an upsert")
    if "owner_id" in patch.model_fields_set and patch.owner_id != customer.owner_id and not may_reassign(principal):
        raise Forbidden("only a manager or an admin may hand a customer to another owner")


def _custom_keys(*given: dict[str, Any] | None) -> set[str]:
    """The custom field keys an input gives (custom_attributes may name fields too)."""
    return {k for values in given if values for k in values}


def _new_owner(principal: Principal, data: CustomerCreate) -> str | None:
    if not may_own(principal, data.owner_id):  # the rule of the single create
        raise Forbidden("only a manager or an admin may make another user a customer's owner")
    if data.owner_id is None and Role.SALES_REP in principal.roles:
        return principal.subject
    return data.owner_id


async def upsert_customers(session: AsyncSession, body: BatchUpsert, principal: Principal) -> Outcomes:
    outcomes = Outcomes(len(body.inputs))
    prop = body.id_property
    keys = {i: k for i, record in enumerate(body.inputs) if (k := key_of(i, record, prop, outcomes)) is not None}
    keys = first_of_each(keys, outcomes, prop)
    found = await _existing_customers(session, prop, list(set(keys.values()))) if keys else {}
    claims = BatchClaims(CUSTOM_FIELDS, "customer")  # unique custom field values: nothing is stored before the end
    now = utcnow()
    new_rows: dict[int, dict[str, Any]] = {}
    changes: list[tuple[Customer, list[str]]] = []
    teams: list[Team] | None = None
    # A new customer without custom field values gets the same values as any other in the batch
    # (the definitions' defaults; nothing of its own to check for uniqueness): worked out once.
    no_custom_fields: dict[str, Any] | None = None
    for index, key in keys.items():
        record = body.inputs[index]
        matches = found.get(key, [])
        try:
            if len(matches) > 1:
                raise Conflict(f"{len(matches)} customers have the email {key}; upsert them by id", kind="ambiguous")
            if matches:
                customer = matches[0]
                check_given_id(record, customer.id, "customer")
                patch = CustomerPatch.model_validate(without(record, "id", "kind", "external_id"))
                _check_update(principal, customer, record, patch)
                given = _custom_keys(patch.custom_fields, patch.custom_attributes)
                saved = {c.key: getattr(customer, c.key) for c in CUSTOMERS.columns} if given else {}
                changed = await apply_patch(session, customer, patch, principal, now)
                try:
                    await claims.claim(session, customer.id, customer.custom_fields, given)
                except InvalidInput:
                    for column, value in saved.items():  # as it was: a refused input leaves no trace
                        setattr(customer, column, value)
                    raise
                if changed:
                    mark_updated(customer, now)
                    changes.append((customer, changed))
                outcomes.ok(index, "updated" if changed else "unchanged", customer.id)
            elif prop == "id":
                raise NotFound("customer", key)
            else:
                check_given_id(record, None, "customer")
                data = CustomerCreate.model_validate(record)
                fields = record_fields(data, _new_owner(principal, data), now)
                # Typed custom fields, validated as the single create does (custom_attributes mapped in).
                attributes, values = await custom_field_input(session, data.custom_attributes, data.custom_fields)
                if values is not None:
                    custom_fields = await CUSTOM_FIELDS.values(session, "customer", values, creating=True)
                else:  # a refusal (a required field) is not kept: each input meets it on its own
                    if no_custom_fields is None:
                        no_custom_fields = await CUSTOM_FIELDS.values(session, "customer", None, creating=True)
                    custom_fields = dict(no_custom_fields)
                fields.update(custom_attributes=attributes or {}, custom_fields=custom_fields)
                # The territory's team, as a single create (the live teams read once per call).
                if teams is None:
                    teams = await KNOWN_TEAMS.teams(session)
                fields["team_id"] = await team_of_new(
                    session, principal, data.team_id, fields["country"], fields["region"], teams=teams
                )
                fields.update(
                    id=new_id(),
                    status="prospect",
                    created_at=now,
                    updated_at=now,
                    version=1,
                    purchase_count=0,
                    lifetime_values={},
                    monetary=0,
                )
                given = _custom_keys(data.custom_fields, data.custom_attributes)
                await claims.claim(session, fields["id"], fields["custom_fields"], given)
                new_rows[index] = fields
        except (ValidationError, InvalidInput, Forbidden, Conflict, NotFound) as exc:
            outcomes.fail(index, exc)
    await _store_changes(session, changes, principal, now)
    await _insert_customers(session, new_rows, outcomes)
    return outcomes


async def _store_changes(
    session: AsyncSession, changes: list[tuple[Customer, list[str]]], principal: Principal, now: datetime
) -> None:
    """The changed customers written as the single PATCH writes one (its tags, customer.updated,
    its timeline line), for all of them at once: one flush, one INSERT of each kind."""
    if not changes:
        return
    await TAGS.set_many(session, [(c.id, c.tags) for c, changed in changes if "tags" in changed])
    await session.flush()
    await publish_many(session, [outbox_row(updated_event(c, f, now), subject=c.id) for c, f in changes])
    await insert_many(session, TimelineEntry.__table__, [updated_line(c.id, f, principal, now) for c, f in changes])


async def _insert_customers(session: AsyncSession, rows: dict[int, dict[str, Any]], outcomes: Outcomes) -> None:
    """The new customers in one INSERT; an external id another writer took meanwhile fails its input."""
    if not rows:
        return
    inserted = set(
        await insert_many(session, CUSTOMERS, list(rows.values()), skip_conflicts_on=["external_id"], returning="id")
    )
    stored = []
    for index, values in rows.items():
        if values["id"] in inserted:
            outcomes.ok(index, "created", values["id"])
            stored.append(values)
        else:
            outcomes.fail(index, Conflict(f"a customer with external_id {values['external_id']!r} exists"))
    if not stored:
        return
    await TAGS.insert(session, [(v["id"], v["tags"]) for v in stored])
    await insert_many(
        session,
        TimelineEntry.__table__,
        [
            timeline.row(v["id"], "customer.created", f"Customer {v['name']} created", occurred_at=v["created_at"])
            for v in stored
        ],
    )
    await publish_many(session, [outbox_row(created_event(v["id"], v), subject=v["id"]) for v in stored])


@customers_router.post(
    "/upsert",
    response_model=BatchUpsertResult,
    responses=BATCH_RESPONSES,
    summary="Create or change up to 1,000 customers, found by external_id, email or id",
    description="Each input is validated and applied on its own; the answer lists, per input index, "
    "`created`, `updated` or `unchanged` with the id, or `error` with the problem (fields named "
    "`inputs[3].email`). 200 when every input succeeded, 207 otherwise. Each change publishes the "
    "event a single write would.",
)
async def batch_upsert_customers(
    body: BatchUpsert,
    session: SessionDep,
    idem: IdempotencyDep,
    principal: Annotated[Principal, require_roles(*WRITERS)],
) -> Response:
    if (replayed := await idem.begin(body)) is not None:
        return replayed
    status, result = (await upsert_customers(session, body, principal)).result()
    return await idem.respond(status, result)


def read_answer(ids: list[uuid.UUID], by_id: dict[uuid.UUID, list[Any]]) -> bytes:
    """The batch read's JSON: what FastAPI would write for BatchReadResult[CustomerOut], without
    the model (building and re-validating 200 models was most of the request's CPU)."""
    answer = {
        "items": [customer_json(by_id[i]) for i in ids if i in by_id],
        "not_found": [i for i in ids if i not in by_id],
    }
    try:
        return orjson.dumps(answer, default=uuid_text, option=orjson.OPT_UTC_Z)
    except orjson.JSONEncodeError:  # a custom attribute past 64 bits: the model's own writer
        return BatchReadResult[CustomerOut].model_validate(answer).model_dump_json().encode()


@customers_router.post(
    "/read",
    response_model=BatchReadResult[CustomerOut],
    summary="Read up to 1,000 customers by id (missing or merged ones are listed in not_found)",
)
async def batch_read_customers(
    request: Request,
    body: BatchRead,
    session: ReadSessionDep,  # a read (the audit rows go behind the request): no transaction round trips
    principal: Annotated[Principal, require_roles(*READERS)],
) -> Response:
    ids = list(dict.fromkeys(body.ids))
    by_id = await live_customer_rows(session, ids)
    for customer_id in by_id:
        audit_read(request, customer_id, principal, "read")
    # Written here, the response model only documents it (the OpenAPI document is unchanged).
    return Response(read_answer(ids, by_id), media_type="application/json")


# --- contacts ----------------------------------------------------------------------------------


async def _existing_contacts(session: AsyncSession, id_property: str, keys: list[Any]) -> dict[Any, list[Contact]]:
    column = {"external_id": Contact.external_id, "email": Contact.email, "id": Contact.id}[id_property]
    stmt = select(Contact).where(col(column).in_(keys)).order_by(col(Contact.id)).with_for_update()
    rows = await session.scalars(stmt)
    found: dict[Any, list[Contact]] = {}
    for contact in rows.all():
        found.setdefault(getattr(contact, id_property), []).append(contact)
    return found


async def _writable_customer(session: AsyncSession, customer_id: Any, principal: Principal) -> Customer:
    """The contacts' customer as the single writes check it (owner, erased, an organisation)."""
    try:
        customer_uuid = uuid.UUID(str(customer_id))
    except ValueError:
        raise InvalidInput("customer_id", "must be a UUID") from None
    customer = await session.get(Customer, customer_uuid)
    if customer is None:
        raise InvalidInput("customer_id", "no such customer")
    if customer.merged_into_id is not None:
        raise CustomerMerged(customer.id, customer.merged_into_id)
    ensure_may_change(principal, customer)
    refuse_if_erased(customer)
    contacts.refuse_unless_organisation(customer)
    return customer


def _contact_moves(contact: Contact, patch: ContactPatch) -> bool:
    """Whether applying ``patch`` would change a stored value (the single PATCH bumps the version anyway)."""
    for name in patch.model_fields_set:
        value = getattr(patch, name)
        if name == "email":
            value = normalise_email(value)
        elif name == "phone":
            value = normalise_phone(value)
        if getattr(contact, name) != value:
            return True
    return False


async def _upsert_contact(
    session: AsyncSession, prop: str, record: dict[str, Any], matches: list[Contact], principal: Principal
) -> tuple[str, uuid.UUID]:
    if len(matches) > 1:
        raise Conflict(f"{len(matches)} contacts have this {prop}; upsert them by id", kind="ambiguous")
    fields = without(record, "id", "customer_id", "external_id")
    if matches:
        contact = matches[0]
        check_given_id(record, contact.id, "contact")
        if "customer_id" in record and str(record["customer_id"]) != str(contact.customer_id):
            raise InvalidInput("customer_id", "a contact stays with its customer")
        if "external_id" in record and record["external_id"] != contact.external_id:
            raise InvalidInput("external_id", "a contact's external_id cannot be changed by an upsert")
        patch = ContactPatch.model_validate(fields)
        customer = await _writable_customer(session, contact.customer_id, principal)
        if not _contact_moves(contact, patch):
            return "unchanged", contact.id
        await contacts.change_contact(session, customer, contact, patch)
        return "updated", contact.id
    if prop == "id":
        raise NotFound("contact", record.get("id"))
    check_given_id(record, None, "contact")
    if "customer_id" not in record:
        raise InvalidInput("customer_id", "required to create a contact")
    external_id = record.get("external_id")
    if external_id is not None and (not isinstance(external_id, str) or not 0 < len(external_id) <= 200):
        raise InvalidInput("external_id", "a string of 1 to 200 characters")
    data = ContactCreate.model_validate(fields)
    customer = await _writable_customer(session, record["customer_id"], principal)
    try:
        async with session.begin_nested():  # an external id another writer took: this input only
            contact = await contacts.add_contact(session, customer, data)
            contact.external_id = external_id
            await session.flush()
    except IntegrityError:
        raise Conflict(f"a contact with external_id {external_id!r} exists") from None
    return "created", contact.id


@contacts_router.post(
    "/upsert",
    response_model=BatchUpsertResult,
    responses=BATCH_RESPONSES,
    summary="Create or change up to 1,000 contacts, found by external_id, email or id",
    description="A new contact names its organisation's `customer_id`. Each input is validated and "
    "applied on its own; the answer lists, per input index, `created`, `updated` or `unchanged` with "
    "the id, or `error` with the problem. 200 when every input succeeded, 207 otherwise.",
)
async def batch_upsert_contacts(
    body: BatchUpsert,
    session: SessionDep,
    idem: IdempotencyDep,
    principal: Annotated[Principal, require_roles(*EDITORS)],
) -> Response:
    if (replayed := await idem.begin(body)) is not None:
        return replayed
    outcomes = Outcomes(len(body.inputs))
    prop = body.id_property
    keys = {i: k for i, record in enumerate(body.inputs) if (k := key_of(i, record, prop, outcomes)) is not None}
    keys = first_of_each(keys, outcomes, prop)
    found = await _existing_contacts(session, prop, list(set(keys.values()))) if keys else {}
    for index, key in keys.items():
        try:
            status, contact_id = await _upsert_contact(session, prop, body.inputs[index], found.get(key, []), principal)
            outcomes.ok(index, status, contact_id)  # type: ignore[arg-type]
        except (ValidationError, InvalidInput, Forbidden, Conflict, NotFound) as exc:
            outcomes.fail(index, exc)
    status_code, result = outcomes.result()
    return await idem.respond(status_code, result)


@contacts_router.post(
    "/read",
    response_model=BatchReadResult[BatchContactOut],
    summary="Read up to 1,000 contacts by id",
)
async def batch_read_contacts(
    request: Request,
    body: BatchRead,
    session: ReadSessionDep,
    principal: Annotated[Principal, require_roles(*READERS)],
) -> BatchReadResult[BatchContactOut]:
    ids = list(dict.fromkeys(body.ids))
    by_id = {c.id: c for c in (await session.scalars(select(Contact).where(col(Contact.id).in_(ids)))).all()}
    for customer_id in {c.customer_id for c in by_id.values()}:
        audit_read(request, customer_id, principal, "read_contacts")
    return BatchReadResult[BatchContactOut](
        items=[BatchContactOut.model_validate(by_id[i]) for i in ids if i in by_id],
        not_found=[i for i in ids if i not in by_id],
    )
