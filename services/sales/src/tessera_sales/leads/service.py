"""Lead use cases: scoring on every change, the status machine, and conversion into a customer."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from tessera_sales.campaigns.service import check_campaign
from tessera_sales.custom_fields import CUSTOM_FIELDS
from tessera_sales.deals import service as deals
from tessera_sales.deals.schemas import DealCreate
from tessera_sales.known_customers.handlers import KNOWN_CUSTOMERS
from tessera_sales.leads import rules
from tessera_sales.leads.models import TAGS, Lead
from tessera_sales.leads.schemas import ConvertRequest, LeadCreate, LeadPatch
from tessera_sales.money import quantize
from tessera_sales.ownership import check_reassign, may_see, owner_for_new
from tessera_sales.teams import team_of_new
from tessera_shared.auth import OwnerScope, Principal
from tessera_shared.customer_directory import CustomerDirectory, CustomerFacts
from tessera_shared.db import read_session, unit_of_work, utcnow
from tessera_shared.errors import InvalidInput, NotFound
from tessera_shared.events.contracts import LeadChanges, LeadConverted, LeadCreated, LeadUpdated
from tessera_shared.http.pagination import PageParams, paginate
from tessera_shared.outbox import publish
from tessera_shared.tags import normalise
from tessera_shared.teams import Team


def rescore(lead: Lead) -> None:
    total, parts = rules.score(
        rules.LeadFacts(
            source=lead.source,
            company=lead.company,
            title=lead.title,
            email=lead.email,
            phone=lead.phone,
            estimated_value=lead.estimated_value,
            engagement_count=lead.engagement_count,
        )
    )
    lead.score = total
    lead.score_reasons = [{"rule": p.rule, "points": p.points, "reason": p.reason} for p in parts]


def customer_payload_for(lead: Lead) -> dict[str, object]:
    """The customer a lead becomes: its company when it names one, else the person."""
    payload = {
        "kind": "organization" if lead.company else "person",
        "name": lead.company or lead.name,
        "email": lead.email,
        "phone": lead.phone,
        "owner_id": lead.owner_id,
    }
    return {k: v for k, v in payload.items() if v is not None}


async def get_lead(
    session: AsyncSession, lead_id: uuid.UUID, principal: Principal, *, for_update: bool = False
) -> Lead:
    """The lead, if the principal may see it (404 otherwise); ``for_update`` locks its row."""
    stmt = select(Lead).where(col(Lead.id) == lead_id)
    lead = (await session.execute(stmt.with_for_update() if for_update else stmt)).scalar_one_or_none()
    if lead is None or not may_see(principal, lead.owner_id, lead.team_id):
        # The same answer for missing and not-yours: a rep learns nothing about others' records.
        raise NotFound("lead", lead_id)
    return lead


async def list_leads(
    session: AsyncSession,
    page: PageParams,
    *,
    owner_id: OwnerScope | None,
    status: str | None,
    campaign_id: uuid.UUID | None,
    custom_fields: Iterable[tuple[str, str]] = (),
    tag: str | None = None,
    team_id: uuid.UUID | None = None,
) -> tuple[list[Lead], str | None]:
    """One page of leads matching the filters (``owner_id`` already scoped by the caller; ``custom_fields``:
    the ``?custom_fields.<key>[op]=v`` parameters)."""
    stmt = select(Lead).where(*await CUSTOM_FIELDS.list_filters(session, "lead", custom_fields))
    if owner_id is not None:
        stmt = stmt.where(owner_id.clause(col(Lead.owner_id), col(Lead.team_id)))
    if status:
        stmt = stmt.where(col(Lead.status) == status)
    if campaign_id:
        stmt = stmt.where(col(Lead.campaign_id) == campaign_id)
    if tag:
        stmt = stmt.where(TAGS.tagged(tag))
    if team_id is not None:
        stmt = stmt.where(col(Lead.team_id) == team_id)
    return await paginate(session, stmt, page, (col(Lead.id),))


async def new_lead(
    session: AsyncSession, data: LeadCreate, principal: Principal, *, teams: list[Team] | None = None
) -> tuple[Lead, LeadCreated]:
    """Every rule of a lead's creation, checked (reads only) and applied to a new Lead in memory,
    with its lead.created; ``teams``: the live teams already read."""
    await check_campaign(session, data.campaign_id)
    custom_fields = await CUSTOM_FIELDS.values(session, "lead", data.custom_fields, creating=True)
    lead = Lead(
        custom_fields=custom_fields,
        name=data.name,
        company=data.company,
        title=data.title,
        email=str(data.email).lower() if data.email else None,
        phone=data.phone,
        source=data.source,
        owner_id=owner_for_new(principal, data.owner_id),
        campaign_id=data.campaign_id,
        currency=data.currency,
        tags=normalise(data.tags),
        country=data.country,
        region=data.region,
        team_id=await team_of_new(session, principal, data.team_id, data.country, data.region, teams=teams),
        # A currency comes with every estimated value (LeadCreate's validator).
        estimated_value=(
            quantize(data.estimated_value, data.currency)
            if data.estimated_value is not None and data.currency is not None
            else None
        ),
    )
    rescore(lead)
    created = LeadCreated(
        lead_id=lead.id,
        source=lead.source,
        name=lead.name,
        company=lead.company,
        owner_id=lead.owner_id,
        team_id=lead.team_id,
        score=lead.score,
        campaign_id=lead.campaign_id,
        custom_fields=lead.custom_fields,
        tags=lead.tags,
        created_at=lead.created_at,
    )
    return lead, created


async def create_lead(session: AsyncSession, data: LeadCreate, principal: Principal) -> Lead:
    lead, created = await new_lead(session, data, principal)
    session.add(lead)
    await session.flush()
    await TAGS.insert(session, [(lead.id, lead.tags)])
    await publish(session, created, subject=lead.id)
    return lead


# What lead.updated announces: the fields a PATCH may change, and the score they move.
_ANNOUNCED = tuple(LeadChanges.model_fields)


async def update_lead(session: AsyncSession, lead: Lead, patch: LeadPatch, principal: Principal) -> None:
    changed = await apply_lead_patch(session, lead, patch, principal)
    if "tags" in changed:
        await TAGS.set(session, lead.id, lead.tags)
    if changed:
        await publish(session, lead_updated(lead, changed, principal), subject=lead.customer_id or lead.id)
    await session.flush()


def lead_updated(lead: Lead, changed: dict[str, object], principal: Principal) -> LeadUpdated:
    """lead.updated (keyed, as lead.created, by the customer once there is one, else by the lead)."""
    return LeadUpdated(
        lead_id=lead.id,
        customer_id=lead.customer_id,
        owner_id=lead.owner_id,
        changes=LeadChanges.model_validate(changed),
        version=lead.version,
        updated_by=principal.subject,
        updated_at=lead.updated_at,
    )


async def apply_lead_patch(
    session: AsyncSession, lead: Lead, patch: LeadPatch, principal: Principal
) -> dict[str, object]:
    """Every rule of a lead's PATCH, applied to the lead (version bumped); answers the announced
    fields that changed. The tag rows and lead.updated are the caller's to write."""
    given = patch.model_fields_set
    before = {name: getattr(lead, name) for name in _ANNOUNCED}
    rules.check_open(lead.status, patch.status if "status" in given and patch.status is not None else lead.status)
    for field in ("name", "source", "status", "tags"):
        if field in given and getattr(patch, field) is None:
            raise InvalidInput(field, "may not be null")
    if "owner_id" in given:
        check_reassign(principal, "lead", lead.owner_id, patch.owner_id)
    # A null name, source or status was refused above.
    if "status" in given and patch.status is not None:
        rules.check_transition(lead.status, patch.status)
        if patch.status == "disqualified" and not (patch.disqualified_reason or lead.disqualified_reason):
            raise InvalidInput("disqualified_reason", "required to disqualify a lead")
    if "campaign_id" in given:
        await check_campaign(session, patch.campaign_id)
    if "custom_fields" in given:
        # Merged into the lead's values (null clears a key); a new dict: the column is not mutation-tracked.
        lead.custom_fields = await CUSTOM_FIELDS.values(
            session, "lead", patch.custom_fields, lead.custom_fields, creating=False, record_id=lead.id
        )
    for field in given - {"custom_fields"}:
        value = getattr(patch, field)
        if field == "tags":
            value = normalise(value)
        setattr(lead, field, str(value).lower() if field == "email" and value else value)
    if lead.estimated_value is not None:
        if lead.currency is None:
            raise InvalidInput("currency", "required with estimated_value")
        lead.estimated_value = quantize(Decimal(lead.estimated_value), lead.currency)
    rescore(lead)
    lead.version += 1
    lead.updated_at = utcnow()
    return {name: getattr(lead, name) for name in _ANNOUNCED if getattr(lead, name) != before[name]}


async def create_customer_for(
    sessions: async_sessionmaker[AsyncSession],
    lead_id: uuid.UUID,
    principal: Principal,
    directory: CustomerDirectory,
) -> CustomerFacts | None:
    """The customer a conversion makes from the lead, asked of the customer service before the
    conversion's transaction opens (no transaction, no lead lock held during the call, §10.2).

    The call is idempotent per lead (``Idempotency-Key`` = the lead id): a retry, or a conversion
    whose transaction then fails, gets the same customer. The customer is kept at once
    (``KnownCustomers.remember``, the statement customer.created makes). A lead the caller may not
    see → 404; one already converted → None (the transaction answers: a replay, or 409);
    CustomerServiceUnavailable (503) and CustomerRejected (409) propagate, nothing stored."""
    async with read_session(sessions) as session:
        lead = await get_lead(session, lead_id, principal)
        if lead.status == "converted":
            return None
        rules.check_convertible(lead.status)
        payload = customer_payload_for(lead)
    customer = await directory.create_customer(payload, idempotency_key=str(lead_id))
    async with unit_of_work(sessions) as session:
        await KNOWN_CUSTOMERS.remember(session, customer)
    return customer


async def convert_lead(
    session: AsyncSession,
    lead: Lead,
    body: ConvertRequest,
    principal: Principal,
    thresholds: Mapping[str, Decimal],
    customer: CustomerFacts | None = None,
) -> bool:
    """Returns whether a customer was created. ``customer``: the one ``create_customer_for`` made
    for a conversion that names no ``customer_id``, before this transaction opened."""
    rules.check_convertible(lead.status)
    created = False
    if body.customer_id is not None:
        # Known customers only (§10.2): the router read an id sales had not seen through the customer
        # service before the transaction (KnownCustomers.ensure), so a customer created a moment ago
        # converts without waiting for customer.created.
        await KNOWN_CUSTOMERS.require(session, body.customer_id)
        customer_id = body.customer_id
    else:
        if customer is None:
            raise RuntimeError("convert_lead without customer_id needs the customer create_customer_for made")
        customer_id, created = customer.id, True
    deal_id = None
    if body.deal is not None:
        wanted = body.deal.model_dump(exclude_unset=False)
        if wanted["pipeline_id"] is None and wanted["stage"] is None:
            wanted["stage"] = "qualification"  # a converted lead is qualified
        deal, _ = await deals.create_deal(
            session,
            DealCreate(customer_id=customer_id, campaign_id=lead.campaign_id, **wanted),
            principal,
            thresholds,
            lead_id=lead.id,
            owner_id=lead.owner_id or principal.subject,
            team_id=lead.team_id,
        )
        deal_id = deal.id
    now = utcnow()
    lead.status, lead.customer_id, lead.deal_id, lead.converted_at = "converted", customer_id, deal_id, now
    lead.version += 1
    lead.updated_at = now
    await publish(
        session,
        LeadConverted(
            lead_id=lead.id,
            customer_id=customer_id,
            deal_id=deal_id,
            source=lead.source,
            campaign_id=lead.campaign_id,
            owner_id=lead.owner_id,
            converted_at=now,
        ),
        subject=customer_id,
    )
    await session.flush()
    return created
