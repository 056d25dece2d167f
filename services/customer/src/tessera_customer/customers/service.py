"""Customer use cases: change state and record the event in the same transaction (flush only)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from tessera_customer.custom_fields import CUSTOM_FIELDS, split_attributes
from tessera_customer.customers.models import DEMOGRAPHIC, GEOGRAPHIC, PSYCHOGRAPHIC, Customer
from tessera_customer.customers.repository import CustomerRepository
from tessera_customer.customers.rules import (
    changed_fields,
    may_change,
    may_own,
    may_reassign,
    name_key,
    normalise_email,
    normalise_phone,
)
from tessera_customer.customers.schemas import CustomerCreate, CustomerPatch
from tessera_customer.teams import team_of_new
from tessera_customer.timeline import service as timeline
from tessera_customer.timeline.models import TimelineEntry
from tessera_shared.auth import Principal, Role
from tessera_shared.db import utcnow
from tessera_shared.errors import Conflict, Forbidden
from tessera_shared.events.contracts import CustomerCreated, CustomerUpdated
from tessera_shared.outbox import publish
from tessera_shared.tags import normalise as normalise_tags

# Fields whose change is announced in customer.updated (the rest is internal detail).
RECORD_FIELDS = (
    "name",
    "email",
    "phone",
    "owner_id",
    "tags",
    "channels",
    "relation",
    "relationship_type",
    "custom_attributes",
    "custom_fields",
    "gender",
    "age_band",
    "occupation",
    "education",
    "country",
    "region",
    "city",
    "climate_zone",
    "lifestyle",
    "social_status",
    "preferences",
)


# The record fields each field of a PATCH may change (custom_attributes may write custom fields).
_TOUCHES: dict[str, tuple[str, ...]] = {
    **{f: (f,) for f in ("name", "email", "phone", "owner_id", "tags", "channels", "relation", "relationship_type")},
    "segmentation": (*DEMOGRAPHIC, *GEOGRAPHIC, *PSYCHOGRAPHIC),
    "custom_attributes": ("custom_attributes", "custom_fields"),
    "custom_fields": ("custom_attributes", "custom_fields"),
}


def _touched(given: set[str]) -> tuple[str, ...]:
    """The RECORD_FIELDS (in their order) a patch giving ``given`` may change: the others stay as
    they are, so comparing these alone finds the same changes (a snapshot of all 21 cost ~10 us)."""
    touched = {f for g in given for f in _TOUCHES.get(g, ())}
    return tuple(f for f in RECORD_FIELDS if f in touched)


def record_fields(data: CustomerCreate, owner: str | None, now: datetime) -> dict[str, Any]:
    """The stored record fields of a new customer (the API and the bulk import share this)."""
    return dict(
        kind=data.kind,
        name=data.name,
        name_key=name_key(data.name),
        email=normalise_email(data.email),
        phone=normalise_phone(data.phone),
        owner_id=owner,
        owner_active_at=now if owner else None,
        tags=normalise_tags(data.tags),
        channels=[c.model_dump() for c in data.channels],
        relation=data.relation,
        relationship_type=data.relationship_type,
        custom_attributes=data.custom_attributes,
        external_id=data.external_id,
        **data.segmentation.columns(),
    )


async def custom_field_input(
    session: AsyncSession, attributes: dict[str, Any] | None, values: dict[str, Any] | None
) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """(the deprecated custom_attributes to keep, the custom field values to write): attributes
    whose key is a defined customer field are written as that field (tessera_customer.custom_fields)."""
    if not attributes:
        return attributes, values
    return split_attributes(attributes, set(await CUSTOM_FIELDS.definitions(session, "customer")), values)


def new_customer(data: CustomerCreate, owner: str | None) -> Customer:
    return Customer(**record_fields(data, owner, utcnow()))


def created_event(customer_id: uuid.UUID, fields: dict[str, Any]) -> CustomerCreated:
    return CustomerCreated(
        customer_id=customer_id,
        kind=fields["kind"],
        name=fields["name"],
        email=fields["email"],
        owner_id=fields["owner_id"],
        status=fields["status"],
        created_at=fields["created_at"],
        team_id=fields.get("team_id"),
        custom_fields=fields.get("custom_fields") or {},
    )


async def announce_created(session: AsyncSession, customer: Customer) -> None:
    fields = {
        f: getattr(customer, f)
        for f in ("kind", "name", "email", "owner_id", "status", "created_at", "team_id", "custom_fields")
    }
    await publish(session, created_event(customer.id, fields), subject=customer.id)
    timeline.record(
        session, customer.id, "customer.created", f"Customer {customer.name} created", occurred_at=customer.created_at
    )


async def create_customer(session: AsyncSession, data: CustomerCreate, principal: Principal) -> Customer:
    owner = data.owner_id
    if not may_own(principal, owner):  # the rule of PATCH: only managers name another owner
        raise Forbidden("only a manager or an admin may make another user a customer's owner")
    if owner is None and Role.SALES_REP in principal.roles:
        owner = principal.subject  # a rep's new customer is the rep's own
    if data.external_id is not None and await _external_id_taken(session, data.external_id):
        raise Conflict(f"a customer with external_id {data.external_id!r} exists")
    attributes, values = await custom_field_input(session, data.custom_attributes, data.custom_fields)
    custom_fields = await CUSTOM_FIELDS.values(session, "customer", values, creating=True)
    customer = new_customer(data, owner)
    customer.custom_attributes, customer.custom_fields = attributes or {}, custom_fields
    customer.team_id = await team_of_new(session, principal, data.team_id, customer.country, customer.region)
    repo = CustomerRepository(session)
    repo.add(customer)
    await session.flush()
    await repo.set_tags(customer.id, customer.tags)
    await announce_created(session, customer)
    return customer


async def _external_id_taken(session: AsyncSession, external_id: str) -> bool:
    return (await session.scalar(select(col(Customer.id)).where(col(Customer.external_id) == external_id))) is not None


def _snapshot(customer: Customer, fields: tuple[str, ...]) -> dict[str, Any]:
    return {f: getattr(customer, f) for f in fields}


def refuse_if_erased(customer: Customer) -> None:
    """An erased customer's record no longer changes (409 ``customer-erased``)."""
    if customer.erased_at is not None:
        raise Conflict(f"customer {customer.id} was erased; its record can no longer change", kind="customer-erased")


def ensure_may_change(principal: Principal, customer: Customer) -> None:
    if not may_change(principal, customer.owner_id, customer.team_id):
        raise Forbidden("only the customer's owner, a manager or an admin may change it")


async def update_customer(
    session: AsyncSession, customer: Customer, patch: CustomerPatch, principal: Principal
) -> Customer:
    now = utcnow()
    changed = await apply_patch(session, customer, patch, principal, now)
    if not changed:
        return customer
    if "tags" in changed:
        await CustomerRepository(session).set_tags(customer.id, customer.tags)
    await announce_updated(session, customer, changed, now)
    session.add(TimelineEntry(**updated_line(customer.id, changed, principal, now)))
    return customer


async def apply_patch(
    session: AsyncSession, customer: Customer, patch: CustomerPatch, principal: Principal, now: datetime
) -> list[str]:
    """``patch`` applied to the record in memory, every rule checked before anything of it moves:
    the record fields it changed (none: the record is as it was). Nothing is written or published
    (the single PATCH and the batch upsert do that, one record or many at once)."""
    ensure_may_change(principal, customer)
    given = patch.model_fields_set
    if "owner_id" in given and patch.owner_id != customer.owner_id and not may_reassign(principal):
        raise Forbidden("only a manager or an admin may hand a customer to another owner")
    fields = _touched(given)
    before = _snapshot(customer, fields)
    if "custom_attributes" in given or "custom_fields" in given:
        attributes, values = await custom_field_input(
            session,
            patch.custom_attributes if "custom_attributes" in given else None,
            patch.custom_fields if "custom_fields" in given else None,
        )
        # Merged into the customer's values (null clears a key); a new dict (not mutation-tracked).
        custom_fields = await CUSTOM_FIELDS.values(
            session, "customer", values, customer.custom_fields, creating=False, record_id=customer.id
        )
        if attributes is not None:
            customer.custom_attributes = attributes
        customer.custom_fields = custom_fields
    # A value equal to the stored one is not set again (an ORM attribute set costs ~1.5 us, and
    # the flush would look at the record again for nothing): the record ends the same.
    new: dict[str, Any] = {}
    for field in ("name", "relation", "relationship_type", "owner_id"):
        if field in given:
            new[field] = getattr(patch, field)
    if "email" in given:
        new["email"] = normalise_email(patch.email)
    if "phone" in given:
        new["phone"] = normalise_phone(patch.phone)
    if "tags" in given and patch.tags is not None:
        new["tags"] = normalise_tags(patch.tags)
    if "channels" in given and patch.channels is not None:
        new["channels"] = [c.model_dump() for c in patch.channels]
    if "segmentation" in given and patch.segmentation is not None:
        new.update(patch.segmentation.columns())
    for field, value in new.items():
        if before[field] != value:
            setattr(customer, field, value)
    changed = changed_fields(before, _snapshot(customer, fields), fields)
    if not changed:
        return changed
    customer.name_key = name_key(customer.name)
    if "owner_id" in changed:
        customer.owner_active_at = now if customer.owner_id else None
    elif principal.subject == customer.owner_id:
        customer.owner_active_at = now
    return changed


def updated_line(customer_id: uuid.UUID, changed: list[str], principal: Principal, now: datetime) -> dict[str, Any]:
    """The timeline line of a record change, as a row."""
    return timeline.row(
        customer_id,
        "customer.updated",
        f"Changed {', '.join(changed)} ({principal.subject})",
        occurred_at=now,
        data={"changed_fields": changed, "actor": principal.subject},
    )


def mark_updated(customer: Customer, now: datetime) -> None:
    customer.version += 1
    customer.updated_at = now


def updated_event(customer: Customer, changed: list[str], now: datetime) -> CustomerUpdated:
    return CustomerUpdated(
        customer_id=customer.id,
        changed_fields=changed,
        name=customer.name,
        email=customer.email,
        owner_id=customer.owner_id,
        version=customer.version,
        updated_at=now,
        custom_fields=customer.custom_fields if "custom_fields" in changed else None,
    )


async def announce_updated(session: AsyncSession, customer: Customer, changed: list[str], now: datetime) -> None:
    """Bump the version and publish customer.updated for a record change (the caller adds the timeline line)."""
    mark_updated(customer, now)
    await session.flush()
    await publish(session, updated_event(customer, changed, now), subject=customer.id)
