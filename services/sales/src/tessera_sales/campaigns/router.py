from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Request, Response
from sqlalchemy import func, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from tessera_sales.campaigns import rules
from tessera_sales.campaigns.models import Campaign, CampaignCost, CampaignMember
from tessera_sales.campaigns.schemas import (
    CampaignCreate,
    CampaignOut,
    CampaignPatch,
    CampaignRoi,
    CostCreate,
    CostOut,
    MemberOut,
    MembersAdd,
    MembersAdded,
    RoiLine,
)
from tessera_sales.credit.models import CollectedPayment
from tessera_sales.deals.models import Deal
from tessera_sales.leads.models import Lead
from tessera_sales.money import to_minor
from tessera_sales.schemas_common import check_minor_units, field_problem
from tessera_shared.auth import Principal, Role, require_roles
from tessera_shared.db import utcnow
from tessera_shared.deps import SessionDep
from tessera_shared.http.errors import Problem
from tessera_shared.http.etag import check_if_match, etag_for
from tessera_shared.http.idempotency import IdempotencyDep
from tessera_shared.http.pagination import Page, PageQuery, paginate

router = APIRouter(prefix="/v1/campaigns", tags=["campaigns"])

MANAGERS = (Role.SALES_MANAGER,)
READERS = (Role.SALES_MANAGER, Role.SALES_REP, Role.FINANCE_MANAGER)
# Expense entries come from marketing managers and finance.
COST_WRITERS = (Role.SALES_MANAGER, Role.FINANCE_MANAGER)


async def _get(session: AsyncSession, campaign_id: uuid.UUID) -> Campaign:
    campaign = await session.get(Campaign, campaign_id)
    if campaign is None:
        raise Problem(404, f"campaign {campaign_id} not found")
    return campaign


@router.post("", status_code=201, response_model=CampaignOut, summary="Create a campaign")
async def create_campaign(
    body: CampaignCreate,
    session: SessionDep,
    idem: IdempotencyDep,
    principal: Annotated[Principal, require_roles(*MANAGERS)],
) -> Response:
    if (replayed := await idem.begin(body)) is not None:
        return replayed
    campaign = Campaign(**body.model_dump(), created_by=principal.subject)
    session.add(campaign)
    await session.flush()
    return await idem.respond(
        201,
        CampaignOut.model_validate(campaign),
        headers={"Location": f"/v1/campaigns/{campaign.id}", "ETag": etag_for(campaign.id, campaign.version)},
    )


@router.get("", response_model=Page[CampaignOut], summary="List campaigns")
async def list_campaigns(
    session: SessionDep,
    page: PageQuery,
    _: Annotated[Principal, require_roles(*READERS)],
) -> Page[CampaignOut]:
    rows, cursor = await paginate(session, select(Campaign), page, (col(Campaign.id),))
    return Page[CampaignOut](items=[CampaignOut.model_validate(c) for c in rows], next_cursor=cursor)


@router.get("/{campaign_id}", response_model=CampaignOut, summary="Get one campaign")
async def get_campaign(
    campaign_id: uuid.UUID,
    session: SessionDep,
    response: Response,
    _: Annotated[Principal, require_roles(*READERS)],
) -> CampaignOut:
    campaign = await _get(session, campaign_id)
    response.headers["ETag"] = etag_for(campaign.id, campaign.version)
    return CampaignOut.model_validate(campaign)


@router.patch("/{campaign_id}", response_model=CampaignOut, summary="Change a campaign (If-Match honoured)")
async def patch_campaign(
    campaign_id: uuid.UUID,
    body: CampaignPatch,
    request: Request,
    session: SessionDep,
    response: Response,
    _: Annotated[Principal, require_roles(*MANAGERS)],
) -> CampaignOut:
    campaign = await _get(session, campaign_id)
    check_if_match(request, campaign.id, campaign.version)
    for field in body.model_fields_set:
        value = getattr(body, field)
        if value is None and field != "ends_on":
            raise field_problem(field, "may not be null")
        setattr(campaign, field, value)
    if campaign.ends_on is not None and campaign.ends_on < campaign.starts_on:
        raise field_problem("ends_on", "ends_on is before starts_on")
    try:
        check_minor_units(campaign.budget, campaign.currency, "budget")
    except ValueError as exc:
        raise field_problem("budget", str(exc)) from None
    campaign.version += 1
    campaign.updated_at = utcnow()
    await session.flush()
    response.headers["ETag"] = etag_for(campaign.id, campaign.version)
    return CampaignOut.model_validate(campaign)


@router.post("/{campaign_id}/members", response_model=MembersAdded, summary="Add customers, leads or segments")
async def add_campaign_members(
    campaign_id: uuid.UUID,
    body: MembersAdd,
    session: SessionDep,
    principal: Annotated[Principal, require_roles(*MANAGERS)],
) -> MembersAdded:
    await _get(session, campaign_id)
    lead_ids = [m.id for m in body.members if m.type == "lead"]
    if lead_ids:  # leads are ours to check; customers and segments live in the customer service
        found = set((await session.execute(select(col(Lead.id)).where(col(Lead.id).in_(lead_ids)))).scalars())
        for n, m in enumerate(body.members):
            if m.type == "lead" and m.id not in found:
                raise field_problem(f"members.{n}.id", "no such lead")
    wanted = {(m.type, m.id) for m in body.members}
    existing = set(
        (
            await session.execute(
                select(col(CampaignMember.member_type), col(CampaignMember.member_id)).where(
                    col(CampaignMember.campaign_id) == campaign_id,
                    tuple_(col(CampaignMember.member_type), col(CampaignMember.member_id)).in_(list(wanted)),
                )
            )
        ).all()
    )
    for member_type, member_id in sorted(wanted - existing, key=str):
        session.add(
            CampaignMember(
                campaign_id=campaign_id, member_type=member_type, member_id=member_id, added_by=principal.subject
            )
        )
    await session.flush()
    return MembersAdded(added=len(wanted - existing), already_members=len(existing))


@router.get("/{campaign_id}/members", response_model=Page[MemberOut], summary="List members")
async def list_campaign_members(
    campaign_id: uuid.UUID,
    session: SessionDep,
    page: PageQuery,
    _: Annotated[Principal, require_roles(*READERS)],
) -> Page[MemberOut]:
    await _get(session, campaign_id)
    stmt = select(CampaignMember).where(col(CampaignMember.campaign_id) == campaign_id)
    rows, cursor = await paginate(session, stmt, page, (col(CampaignMember.member_type), col(CampaignMember.member_id)))
    return Page[MemberOut](
        items=[MemberOut(type=m.member_type, id=m.member_id, added_by=m.added_by, added_at=m.added_at) for m in rows],
        next_cursor=cursor,
    )


@router.post("/{campaign_id}/costs", status_code=201, response_model=CostOut, summary="Book an expense entry")
async def add_campaign_cost(
    campaign_id: uuid.UUID,
    body: CostCreate,
    session: SessionDep,
    idem: IdempotencyDep,
    principal: Annotated[Principal, require_roles(*COST_WRITERS)],
) -> Response:
    if (replayed := await idem.begin(body)) is not None:
        return replayed
    await _get(session, campaign_id)
    cost = CampaignCost(
        campaign_id=campaign_id,
        description=body.description,
        amount=body.amount,
        amount_minor=to_minor(body.amount, body.currency),
        currency=body.currency,
        incurred_on=body.incurred_on,
        recorded_by=principal.subject,
    )
    session.add(cost)
    await session.flush()
    return await idem.respond(201, CostOut.model_validate(cost))


@router.get("/{campaign_id}/costs", response_model=Page[CostOut], summary="List expense entries")
async def list_campaign_costs(
    campaign_id: uuid.UUID,
    session: SessionDep,
    page: PageQuery,
    _: Annotated[Principal, require_roles(*READERS)],
) -> Page[CostOut]:
    await _get(session, campaign_id)
    stmt = select(CampaignCost).where(col(CampaignCost.campaign_id) == campaign_id)
    rows, cursor = await paginate(session, stmt, page, (col(CampaignCost.id),))
    return Page[CostOut](items=[CostOut.model_validate(c) for c in rows], next_cursor=cursor)


@router.get(
    "/{campaign_id}/roi",
    response_model=CampaignRoi,
    # The minus sign is typography in the published document, not a confusable.
    summary="(collected revenue of attributed deals − cost) / cost, per currency",  # noqa: RUF001
)
async def get_campaign_roi(
    campaign_id: uuid.UUID,
    session: SessionDep,
    _: Annotated[Principal, require_roles(*READERS)],
) -> CampaignRoi:
    await _get(session, campaign_id)
    costs = dict(
        (
            await session.execute(
                select(col(CampaignCost.currency), func.sum(col(CampaignCost.amount_minor)))
                .where(col(CampaignCost.campaign_id) == campaign_id)
                .group_by(col(CampaignCost.currency))
            )
        ).all()
    )
    collected = dict(
        (
            await session.execute(
                select(col(CollectedPayment.currency), func.sum(col(CollectedPayment.amount_minor)))
                .join(Deal, col(Deal.id) == col(CollectedPayment.deal_id))
                .where(col(Deal.campaign_id) == campaign_id)
                .group_by(col(CollectedPayment.currency))
            )
        ).all()
    )
    deals = dict(
        (
            await session.execute(
                select(col(Deal.stage), func.count())
                .where(col(Deal.campaign_id) == campaign_id)
                .group_by(col(Deal.stage))
            )
        ).all()
    )
    leads = await session.scalar(select(func.count()).select_from(Lead).where(col(Lead.campaign_id) == campaign_id))
    lines = rules.roi_by_currency({c: int(v) for c, v in costs.items()}, {c: int(v) for c, v in collected.items()})
    return CampaignRoi(
        campaign_id=campaign_id,
        attributed_leads=int(leads or 0),
        attributed_deals=sum(int(n) for n in deals.values()),
        won_deals=int(deals.get("won", 0)),
        by_currency=[RoiLine(currency=x.currency, cost=x.cost, collected=x.collected, roi=x.roi) for x in lines],
    )
