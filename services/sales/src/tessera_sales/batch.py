"""Batch upsert and batch read of deals, leads and activities (issue 23, item 1).

``POST /v1/{deals|leads|activities}/batch/upsert`` finds every input's record with one SELECT (by
``external_id``, ``id``, and for leads ``email``), then applies each input on its own through the
single writes' use cases in a savepoint: the same rules (a rep works only their own records: another's
is not found, as for a single PATCH; only managers assign owners), the same events, once per change.
An input that moves nothing is ``unchanged`` and leaves no trace (its savepoint is rolled back, so
no version bump). Customers named by new deals and activities are read through the customer service
before the transaction opens (§10.2), once per customer.

``POST /v1/{deals|leads|activities}/batch/read`` answers up to 1,000 records by id; the ones the
caller may not see are listed in ``not_found`` with the missing ones, alike.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Response
from pydantic import BaseModel, TypeAdapter, ValidationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from tessera_sales.activities import service as activities
from tessera_sales.activities.models import Activity
from tessera_sales.activities.schemas import ActivityCreate, ActivityOut, ActivityPatch
from tessera_sales.api import DEAL_READERS, SELLERS, ReadThroughDep, SettingsDep
from tessera_sales.deals import service as deals
from tessera_sales.deals.models import Deal
from tessera_sales.deals.repository import DealRepository
from tessera_sales.deals.schemas import DealCreate, DealOut, DealPatch, LineItemOut
from tessera_sales.leads import service as leads
from tessera_sales.leads.models import Lead
from tessera_sales.leads.schemas import LeadCreate, LeadOut, LeadPatch
from tessera_sales.ownership import may_see
from tessera_sales.settings import SalesSettings
from tessera_shared.auth import Principal, require_roles
from tessera_shared.deps import SessionDep
from tessera_shared.errors import Conflict, DomainError, InvalidInput, NotFound
from tessera_shared.http.batch import (
    BatchRead,
    BatchReadResult,
    BatchUpsert,
    BatchUpsertResult,
    Outcomes,
    Status,
    first_of_each,
    key_of,
    unsupported_id_property,
    without,
)
from tessera_shared.http.idempotency import IdempotencyDep

BATCH_RESPONSES: dict[int | str, dict[str, Any]] = {
    207: {"model": BatchUpsertResult, "description": "some inputs failed: each one's problem is in its result"}
}
# Customers read through the customer service at once, before the transaction (§10.2).
READ_THROUGH_CONCURRENCY = 8
# Columns that move with every write, changed or not: not what makes an input "updated".
_BOOKKEEPING = frozenset({"version", "updated_at"})

Row = Any  # Deal | Lead | Activity


@dataclass(frozen=True)
class Resource:
    name: str
    model: type[Any]
    id_properties: tuple[str, ...]
    create_schema: type[BaseModel]
    patch_schema: type[BaseModel]
    create: Callable[[AsyncSession, Any, Principal, SalesSettings], Awaitable[Row]]
    update: Callable[[AsyncSession, Row, Any, Principal, SalesSettings], Awaitable[None]]


async def _create_deal(session: AsyncSession, data: Any, principal: Principal, settings: SalesSettings) -> Row:
    deal, _ = await deals.create_deal(session, data, principal, settings.large_deal_thresholds)
    return deal


async def _update_deal(session: AsyncSession, deal: Row, patch: Any, principal: Principal, s: SalesSettings) -> None:
    await deals.update_deal(session, deal, patch, principal, s.large_deal_thresholds)


async def _create_lead(session: AsyncSession, data: Any, principal: Principal, _: SalesSettings) -> Row:
    return await leads.create_lead(session, data, principal)


async def _update_lead(session: AsyncSession, lead: Row, patch: Any, principal: Principal, _: SalesSettings) -> None:
    await leads.update_lead(session, lead, patch, principal)


async def _create_activity(session: AsyncSession, data: Any, principal: Principal, _: SalesSettings) -> Row:
    return await activities.log_activity(session, data, principal)


async def _update_activity(session: AsyncSession, row: Row, patch: Any, principal: Principal, _: SalesSettings) -> None:
    await activities.update_activity(session, row, patch, principal.subject)


DEALS = Resource("deal", Deal, ("external_id", "id"), DealCreate, DealPatch, _create_deal, _update_deal)
LEADS = Resource("lead", Lead, ("external_id", "email", "id"), LeadCreate, LeadPatch, _create_lead, _update_lead)
ACTIVITIES = Resource(
    "activity", Activity, ("external_id", "id"), ActivityCreate, ActivityPatch, _create_activity, _update_activity
)


def _snapshot(row: Row, lines: list[Any]) -> tuple[Any, ...]:
    """Every stored value of the record (and a deal's lines) but the bookkeeping ones."""
    values = tuple(getattr(row, c.key) for c in row.__table__.columns if c.key not in _BOOKKEEPING)
    return values + tuple(LineItemOut.model_validate(x).model_dump_json() for x in lines)


def _same(schema: type[BaseModel], field: str, value: Any, current: Any) -> bool:
    """Whether a create-only field's given value is the record's (then it may be repeated)."""
    info = schema.model_fields.get(field)
    if info is None or info.annotation is None:
        return False
    try:
        return TypeAdapter(info.annotation).validate_python(value) == current
    except ValidationError:
        return False


def _patch_fields(resource: Resource, record: dict[str, Any], row: Row) -> dict[str, Any]:
    """An input for an existing record as its PATCH: fields only a create takes must repeat the
    stored value (a deal's customer or currency, an activity's kind, ...), or the input fails."""
    fields = without(record, "id")
    for field in list(fields):
        if field in resource.patch_schema.model_fields:
            continue
        if field == "external_id" or field in resource.create_schema.model_fields:
            if not _same(resource.create_schema, field, fields[field], getattr(row, field)) and not (
                field == "external_id" and fields[field] == row.external_id
            ):
                raise InvalidInput(field, f"a {resource.name}'s {field} cannot be changed by an upsert")
            del fields[field]
    return fields


async def _apply(
    session: AsyncSession,
    resource: Resource,
    prop: str,
    key: Any,
    record: dict[str, Any],
    matches: list[Row],
    principal: Principal,
    settings: SalesSettings,
    unavailable: dict[uuid.UUID, DomainError],
    lines: dict[uuid.UUID, list[Any]],
) -> tuple[Status, uuid.UUID]:
    if len(matches) > 1:
        raise Conflict(f"{len(matches)} {resource.name}s have this {prop}; upsert them by id", kind="ambiguous")
    if matches:
        row = matches[0]
        if not may_see(principal, row.owner_id, getattr(row, "team_id", None)):
            # As a single PATCH of another rep's record: not found, nothing learnt about it.
            raise NotFound(resource.name, key)
        patch = resource.patch_schema.model_validate(_patch_fields(resource, record, row))
        stored_lines = lines.get(row.id, [])
        before = _snapshot(row, stored_lines)
        await resource.update(session, row, patch, principal, settings)
        if isinstance(row, Deal) and "line_items" in patch.model_fields_set:  # only these move its lines
            stored_lines = await deals.lines_of(session, row.id)
        return ("updated" if _snapshot(row, stored_lines) != before else "unchanged"), row.id
    if prop == "id":
        raise NotFound(resource.name, key)
    external_id = record.get("external_id")
    if external_id is not None and (not isinstance(external_id, str) or not 0 < len(external_id) <= 200):
        raise InvalidInput("external_id", "a string of 1 to 200 characters")
    data = resource.create_schema.model_validate(without(record, "id", "external_id"))
    customer_id = getattr(data, "customer_id", None)
    if customer_id in unavailable:
        raise unavailable[customer_id]
    row = await resource.create(session, data, principal, settings)
    row.external_id = external_id
    await session.flush()
    return "created", row.id


async def upsert(
    session: AsyncSession,
    resource: Resource,
    body: BatchUpsert,
    principal: Principal,
    settings: SalesSettings,
    unavailable: dict[uuid.UUID, DomainError],
) -> Outcomes:
    outcomes = Outcomes(len(body.inputs))
    prop = body.id_property
    keys = {i: k for i, record in enumerate(body.inputs) if (k := key_of(i, record, prop, outcomes)) is not None}
    keys = first_of_each(keys, outcomes, prop)
    found: dict[Any, list[Row]] = {}
    if keys:
        column = getattr(resource.model, prop)
        stmt = select(resource.model).where(col(column).in_(set(keys.values()))).order_by(col(resource.model.id))
        for row in (await session.scalars(stmt.with_for_update())).all():
            found.setdefault(getattr(row, prop), []).append(row)
    # The found deals' lines in one read (a read per input and snapshot was a third of an
    # unchanged input's statements).
    lines: dict[uuid.UUID, list[Any]] = {}
    if resource is DEALS and found:
        lines = await DealRepository(session).lines([r.id for rows in found.values() for r in rows])
    for index, key in keys.items():
        savepoint = await session.begin_nested()
        try:
            status, record_id = await _apply(
                session,
                resource,
                prop,
                key,
                body.inputs[index],
                found.get(key, []),
                principal,
                settings,
                unavailable,
                lines,
            )
        except (ValidationError, DomainError) as exc:
            await savepoint.rollback()
            outcomes.fail(index, exc)
            continue
        except IntegrityError:
            await savepoint.rollback()
            outcomes.fail(index, Conflict(f"a {resource.name} with this external_id exists"))
            continue
        if status == "unchanged":
            await savepoint.rollback()  # not even a version bump
        else:
            await savepoint.commit()
        outcomes.ok(index, status, record_id)
    return outcomes


def _customers_named(inputs: Iterable[dict[str, Any]]) -> set[uuid.UUID]:
    named = set()
    for record in inputs:
        try:
            named.add(uuid.UUID(str(record["customer_id"])))
        except (KeyError, ValueError):
            continue
    return named


async def _read_through(read_through: ReadThroughDep, customers: set[uuid.UUID]) -> dict[uuid.UUID, DomainError]:
    """Ask the customer service about the customers not known here yet, a few at a time. An unknown
    one is the input's 422 later (on the local copy); an unreachable service fails its inputs."""
    gate = asyncio.Semaphore(READ_THROUGH_CONCURRENCY)
    unavailable: dict[uuid.UUID, DomainError] = {}

    async def one(customer_id: uuid.UUID) -> None:
        async with gate:
            try:
                await read_through(customer_id)
            except InvalidInput:
                pass
            except DomainError as exc:
                unavailable[customer_id] = exc

    await asyncio.gather(*(one(c) for c in customers))
    return unavailable


def _upsert_route(router: APIRouter, resource: Resource, plural: str) -> None:
    @router.post(
        "/upsert",
        response_model=BatchUpsertResult,
        responses=BATCH_RESPONSES,
        name=f"batch_upsert_{plural}",
        summary=f"Create or change up to 1,000 {plural}, found by {' or '.join(resource.id_properties)}",
        description="Each input is validated and applied on its own, with the single writes' rules; the "
        "answer lists, per input index, `created`, `updated` or `unchanged` with the id, or `error` with the "
        "problem (fields named `inputs[3].title`). 200 when every input succeeded, 207 otherwise. Each change "
        "publishes the events a single write would.",
    )
    async def batch_upsert(
        body: BatchUpsert,
        settings: SettingsDep,
        session: SessionDep,
        idem: IdempotencyDep,
        read_through: ReadThroughDep,
        principal: Annotated[Principal, require_roles(*SELLERS)],
    ) -> Response:
        if body.id_property not in resource.id_properties:
            raise unsupported_id_property(body.id_property, plural, resource.id_properties)
        unavailable = await _read_through(read_through, _customers_named(body.inputs))
        if (replayed := await idem.begin(body)) is not None:
            return replayed
        status, result = (await upsert(session, resource, body, principal, settings, unavailable)).result()
        return await idem.respond(status, result)

    batch_upsert.__name__ = f"batch_upsert_{plural}"


async def _visible(session: AsyncSession, model: type[Any], ids: list[uuid.UUID], principal: Principal) -> dict:
    rows = (await session.scalars(select(model).where(col(model.id).in_(ids)))).all()
    # The owner rule of a single PATCH: a team lead's team's records too (activities have no team).
    return {r.id: r for r in rows if may_see(principal, r.owner_id, getattr(r, "team_id", None))}


deals_router = APIRouter(prefix="/v1/deals/batch", tags=["deals"])
leads_router = APIRouter(prefix="/v1/leads/batch", tags=["leads"])
activities_router = APIRouter(prefix="/v1/activities/batch", tags=["activities"])
routers = [deals_router, leads_router, activities_router]

_upsert_route(deals_router, DEALS, "deals")
_upsert_route(leads_router, LEADS, "leads")
_upsert_route(activities_router, ACTIVITIES, "activities")


@deals_router.post(
    "/read", response_model=BatchReadResult[DealOut], summary="Read up to 1,000 deals by id (a rep: own deals)"
)
async def batch_read_deals(
    body: BatchRead, session: SessionDep, principal: Annotated[Principal, require_roles(*DEAL_READERS)]
) -> BatchReadResult[DealOut]:
    ids = list(dict.fromkeys(body.ids))
    found = await _visible(session, Deal, ids, principal)
    lines = await DealRepository(session).lines(list(found))
    items = []
    for deal_id in ids:
        if deal_id in found:
            out = DealOut.model_validate(found[deal_id])
            out.line_items = [LineItemOut.model_validate(x) for x in lines.get(deal_id, [])]
            items.append(out)
    return BatchReadResult[DealOut](items=items, not_found=[i for i in ids if i not in found])


@leads_router.post(
    "/read", response_model=BatchReadResult[LeadOut], summary="Read up to 1,000 leads by id (a rep: own leads)"
)
async def batch_read_leads(
    body: BatchRead, session: SessionDep, principal: Annotated[Principal, require_roles(*SELLERS)]
) -> BatchReadResult[LeadOut]:
    ids = list(dict.fromkeys(body.ids))
    found = await _visible(session, Lead, ids, principal)
    return BatchReadResult[LeadOut](
        items=[LeadOut.model_validate(found[i]) for i in ids if i in found],
        not_found=[i for i in ids if i not in found],
    )


@activities_router.post(
    "/read",
    response_model=BatchReadResult[ActivityOut],
    summary="Read up to 1,000 activities by id (a rep: own activities)",
)
async def batch_read_activities(
    body: BatchRead, session: SessionDep, principal: Annotated[Principal, require_roles(*SELLERS)]
) -> BatchReadResult[ActivityOut]:
    ids = list(dict.fromkeys(body.ids))
    found = await _visible(session, Activity, ids, principal)
    return BatchReadResult[ActivityOut](
        items=[ActivityOut.model_validate(found[i]) for i in ids if i in found],
        not_found=[i for i in ids if i not in found],
    )
