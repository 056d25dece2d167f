"""Batch upsert and batch read of deals, leads and activities (issue 23, item 1).

``POST /v1/{deals|leads|activities}/batch/upsert`` finds every input's record with one SELECT (by
``external_id``, ``id``, and for leads ``email``) and decides each input on its own with the single
writes' rules (a rep works only their own records: another's is not found, as for a single PATCH;
only managers assign owners), the same events, once per change. Deals and leads are set-based: each
input is checked and applied in memory (``deals.new_deal`` / ``apply_deal_patch``,
``leads.new_lead`` / ``apply_lead_patch``; reads only, the pipelines, customers and teams read once
per batch), a refused one is put back as it was, and then the batch is written at once: the new
records in one INSERT (an external id another writer took meanwhile fails its input only), the
changed ones in one flush, their tags, stage history, lines and outbox rows one INSERT each. A deal
input that moves a stage, a pipeline or the lines, and activities, go one by one through the single
writes' use cases in a savepoint. An input that moves nothing is ``unchanged`` and leaves no trace
(no version bump). Customers named by new deals and activities are read through the customer
service before the transaction opens (§10.2), once per customer.

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
from tessera_sales.custom_fields import CUSTOM_FIELDS
from tessera_sales.deals import service as deals
from tessera_sales.deals.models import TAGS as DEAL_TAGS
from tessera_sales.deals.models import Deal, DealLine, DealStageChange
from tessera_sales.deals.repository import DealRepository
from tessera_sales.deals.schemas import DealCreate, DealOut, DealPatch, LineItemOut
from tessera_sales.leads import service as leads
from tessera_sales.leads.models import TAGS as LEAD_TAGS
from tessera_sales.leads.models import Lead
from tessera_sales.leads.schemas import LeadCreate, LeadOut, LeadPatch
from tessera_sales.ownership import may_see
from tessera_sales.pipelines.rules import Stages
from tessera_sales.pipelines.service import stages_for_deal, stages_for_new_deal
from tessera_sales.settings import SalesSettings
from tessera_sales.teams import KNOWN_TEAMS
from tessera_shared.auth import Principal, require_roles
from tessera_shared.custom_fields.claims import BatchClaims
from tessera_shared.db.bulk import insert_many
from tessera_shared.deps import SessionDep
from tessera_shared.errors import Conflict, DomainError, InvalidInput, NotFound
from tessera_shared.http.batch import (
    BatchRead,
    BatchReadResult,
    BatchUpsert,
    BatchUpsertResult,
    Outcomes,
    Status,
    check_given_id,
    first_of_each,
    key_of,
    unsupported_id_property,
    without,
)
from tessera_shared.http.idempotency import IdempotencyDep
from tessera_shared.outbox import outbox_row, publish_many

BATCH_RESPONSES: dict[int | str, dict[str, Any]] = {
    207: {"model": BatchUpsertResult, "description": "some inputs failed: each one's problem is in its result"}
}
# Customers read through the customer service at once, before the transaction (§10.2).
READ_THROUGH_CONCURRENCY = 8
# Columns that move with every write, changed or not: not what makes an input "updated".
_BOOKKEEPING = frozenset({"version", "updated_at"})
# What a deal PATCH gives that moves its stage history or lines: such an input goes alone.
_ALONE = frozenset({"stage", "pipeline_id", "line_items"})

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
TAGS_OF = {"deal": DEAL_TAGS, "lead": LEAD_TAGS}
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
    check_given_id(record, row.id, resource.name)
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
    check_given_id(record, None, resource.name)
    external_id = record.get("external_id")
    if external_id is not None and (not isinstance(external_id, str) or not 0 < len(external_id) <= 200):
        raise InvalidInput("external_id", "a string of 1 to 200 characters")
    data = resource.create_schema.model_validate(without(record, "external_id"))
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
    alone = list(keys)
    if resource is not ACTIVITIES:
        batch = _SetBased(session, resource, principal, settings, unavailable, lines)
        alone = await batch.decide(prop, body.inputs, keys, found, outcomes)
        await batch.store(outcomes)
    for index in alone:
        savepoint = await session.begin_nested()
        key = keys[index]
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


def _values(row: Row) -> dict[str, Any]:
    return {c.key: getattr(row, c.key) for c in row.__table__.columns}


class _SetBased:
    """One batch of deals or leads: each input decided in memory, then everything written at once."""

    def __init__(
        self,
        session: AsyncSession,
        resource: Resource,
        principal: Principal,
        settings: SalesSettings,
        unavailable: dict[uuid.UUID, DomainError],
        lines: dict[uuid.UUID, list[Any]],
    ) -> None:
        self.session, self.resource, self.principal, self.settings = session, resource, principal, settings
        self.unavailable, self.lines = unavailable, lines
        self.new: dict[int, Any] = {}  # index -> deals.NewDeal | (Lead, LeadCreated)
        self.changed: list[tuple[int, Row]] = []
        self.tags: list[tuple[uuid.UUID, Iterable[str]]] = []
        self.events: list[dict[str, Any]] = []
        # Read once per batch: pipelines (a deal's, a new deal's), customers' checks, teams.
        self.stages: dict[uuid.UUID, Stages] = {}
        self.new_stages: dict[uuid.UUID | None, Stages | DomainError] = {}
        self.customers: dict[uuid.UUID, DomainError | None] = {}
        self.teams: list[Any] | None = None
        # Unique custom field values given in this batch (nothing is stored before the end).
        self.claims = BatchClaims(CUSTOM_FIELDS, resource.name)

    async def decide(
        self,
        prop: str,
        inputs: list[dict[str, Any]],
        keys: dict[int, Any],
        found: dict[Any, list[Row]],
        outcomes: Outcomes,
    ) -> list[int]:
        """Every input checked and applied in memory (nothing written: no autoflush); answers the
        deal inputs that must go alone."""
        alone = []
        with self.session.no_autoflush:
            for index, key in keys.items():
                record, matches = inputs[index], found.get(key, [])
                try:
                    if len(matches) > 1:
                        raise Conflict(
                            f"{len(matches)} {self.resource.name}s have this {prop}; upsert them by id",
                            kind="ambiguous",
                        )
                    if matches:
                        row = matches[0]
                        if not may_see(self.principal, row.owner_id, getattr(row, "team_id", None)):
                            raise NotFound(self.resource.name, key)  # as a single PATCH of another rep's record
                        patch = self.resource.patch_schema.model_validate(_patch_fields(self.resource, record, row))
                        if self.resource is DEALS and patch.model_fields_set & _ALONE:
                            alone.append(index)
                            continue
                        status = await self._change(index, row, patch)
                        outcomes.ok(index, status, row.id)
                    elif prop == "id":
                        raise NotFound(self.resource.name, key)
                    else:
                        await self._create(index, record)
                except (ValidationError, DomainError) as exc:
                    outcomes.fail(index, exc)
        return alone

    async def _change(self, index: int, row: Row, patch: Any) -> Status:
        saved = _values(row)
        before = _snapshot(row, [])
        try:
            if self.resource is DEALS:
                change = await deals.apply_deal_patch(
                    self.session,
                    row,
                    patch,
                    self.principal,
                    self.settings.large_deal_thresholds,
                    stages=await self._stages_of(row.pipeline_id),
                    has_lines=bool(self.lines.get(row.id)),
                )
                events = [outbox_row(e, subject=row.customer_id) for e in change.events]
                tags_moved = change.tags_moved
            else:
                changed = await leads.apply_lead_patch(self.session, row, patch, self.principal)
                event = leads.lead_updated(row, changed, self.principal) if changed else None
                events = [outbox_row(event, subject=row.customer_id or row.id)] if event else []
                tags_moved = "tags" in changed
            await self._claim_unique(row, patch)
        except BaseException:
            _restore(row, saved)  # a refused input leaves no trace
            raise
        if _snapshot(row, []) == before:
            _restore(row, saved)  # not even a version bump
            return "unchanged"
        self.changed.append((index, row))
        self.events += events
        if tags_moved:
            self.tags.append((row.id, row.tags))
        return "updated"

    async def _claim_unique(self, record: Row, given: Any) -> None:
        if given.custom_fields:
            await self.claims.claim(self.session, record.id, record.custom_fields, given.custom_fields)

    async def _stages_of(self, pipeline_id: uuid.UUID) -> Stages:
        if pipeline_id not in self.stages:
            self.stages[pipeline_id] = await stages_for_deal(self.session, pipeline_id)
        return self.stages[pipeline_id]

    async def _create(self, index: int, record: dict[str, Any]) -> None:
        check_given_id(record, None, self.resource.name)
        external_id = record.get("external_id")
        if external_id is not None and (not isinstance(external_id, str) or not 0 < len(external_id) <= 200):
            raise InvalidInput("external_id", "a string of 1 to 200 characters")
        data: Any = self.resource.create_schema.model_validate(without(record, "external_id"))
        if self.resource is DEALS:
            if data.customer_id in self.unavailable:
                raise self.unavailable[data.customer_id]
            await self._require_customer(data.customer_id)
            new = await deals.new_deal(
                self.session,
                data,
                self.principal,
                self.settings.large_deal_thresholds,
                stages=await self._new_stages(data.pipeline_id),
                customer_checked=True,
            )
            new.deal.external_id = external_id
            await self._claim_unique(new.deal, data)
            self.new[index] = new
        else:
            if self.teams is None:
                self.teams = await KNOWN_TEAMS.teams(self.session)
            lead, created = await leads.new_lead(self.session, data, self.principal, teams=self.teams)
            lead.external_id = external_id
            await self._claim_unique(lead, data)
            self.new[index] = (lead, created)

    async def _require_customer(self, customer_id: uuid.UUID) -> None:
        if customer_id not in self.customers:
            try:
                await deals.check_customer(self.session, customer_id)
                self.customers[customer_id] = None
            except DomainError as exc:
                self.customers[customer_id] = exc
        if (error := self.customers[customer_id]) is not None:
            raise error

    async def _new_stages(self, pipeline_id: uuid.UUID | None) -> Stages:
        if pipeline_id not in self.new_stages:
            try:
                self.new_stages[pipeline_id] = await stages_for_new_deal(self.session, pipeline_id)
            except DomainError as exc:
                self.new_stages[pipeline_id] = exc
        stages = self.new_stages[pipeline_id]
        if isinstance(stages, DomainError):
            raise stages
        return stages

    async def store(self, outcomes: Outcomes) -> None:
        """The changed records in one flush, the new ones in one INSERT, and what goes with them."""
        tags = TAGS_OF[self.resource.name]
        await tags.set_many(self.session, self.tags)
        await self.session.flush()
        await self._insert(outcomes)
        await publish_many(self.session, self.events)

    async def _insert(self, outcomes: Outcomes) -> None:
        if not self.new:
            return
        records = {i: (n.deal if self.resource is DEALS else n[0]) for i, n in self.new.items()}
        table = self.resource.model.__table__
        inserted = set(
            await insert_many(
                self.session,
                table,
                [_values(r) for r in records.values()],
                skip_conflicts_on=["external_id"],
                returning="id",
            )
        )
        stored = []
        for index, record in records.items():
            if record.id in inserted:
                outcomes.ok(index, "created", record.id)
                stored.append(self.new[index])
            else:
                outcomes.fail(index, Conflict(f"a {self.resource.name} with this external_id exists"))
        if not stored:
            return
        if self.resource is DEALS:
            await TAGS_OF["deal"].insert(self.session, [(n.deal.id, n.deal.tags) for n in stored])
            await insert_many(self.session, DealLine.__table__, [_values(x) for n in stored for x in n.lines])
            await insert_many(self.session, DealStageChange.__table__, [_values(n.history) for n in stored])
            self.events += [outbox_row(e, subject=n.deal.customer_id) for n in stored for e in n.events]
        else:
            await TAGS_OF["lead"].insert(self.session, [(lead.id, lead.tags) for lead, _ in stored])
            self.events += [outbox_row(created, subject=lead.id) for lead, created in stored]


def _restore(row: Row, saved: dict[str, Any]) -> None:
    for key, value in saved.items():
        if getattr(row, key) is not value:
            setattr(row, key, value)


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
