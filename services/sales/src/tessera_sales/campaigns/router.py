from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Request, Response

from tessera_sales.campaigns import service
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
    SkippedMember,
)
from tessera_shared.auth import Principal, Role, require_roles
from tessera_shared.deps import SessionDep
from tessera_shared.http.etag import check_if_match, etag_for
from tessera_shared.http.idempotency import IdempotencyDep
from tessera_shared.http.pagination import Page, PageQuery

router = APIRouter(prefix="/v1/campaigns", tags=["campaigns"])

MANAGERS = (Role.SALES_MANAGER,)
READERS = (Role.SALES_MANAGER, Role.SALES_REP, Role.FINANCE_MANAGER)
# Expense entries come from marketing managers and finance.
COST_WRITERS = (Role.SALES_MANAGER, Role.FINANCE_MANAGER)


@router.post("", status_code=201, response_model=CampaignOut, summary="Create a campaign")
async def create_campaign(
    body: CampaignCreate,
    session: SessionDep,
    idem: IdempotencyDep,
    principal: Annotated[Principal, require_roles(*MANAGERS)],
) -> Response:
    if (replayed := await idem.begin(body)) is not None:
        return replayed
    campaign = await service.create_campaign(session, body, principal)
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
    rows, cursor = await service.list_campaigns(session, page)
    return Page[CampaignOut](items=[CampaignOut.model_validate(c) for c in rows], next_cursor=cursor)


@router.get("/{campaign_id}", response_model=CampaignOut, summary="Get one campaign")
async def get_campaign(
    campaign_id: uuid.UUID,
    session: SessionDep,
    response: Response,
    _: Annotated[Principal, require_roles(*READERS)],
) -> CampaignOut:
    campaign = await service.get_campaign(session, campaign_id)
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
    campaign = await service.get_campaign(session, campaign_id)
    check_if_match(request, campaign.id, campaign.version)
    await service.update_campaign(session, campaign, body)
    response.headers["ETag"] = etag_for(campaign.id, campaign.version)
    return CampaignOut.model_validate(campaign)


@router.post(
    "/{campaign_id}/members",
    response_model=MembersAdded,
    summary="Add customers (with marketing consent), leads or segments",
)
async def add_campaign_members(
    campaign_id: uuid.UUID,
    body: MembersAdd,
    session: SessionDep,
    principal: Annotated[Principal, require_roles(*MANAGERS)],
) -> MembersAdded:
    result = await service.add_members(session, campaign_id, body, principal)
    return MembersAdded(
        added=result.added,
        already_members=result.already_members,
        skipped=[
            SkippedMember(type=x.member_type, id=x.member_id, reason=x.reason, message=x.message)
            for x in result.skipped
        ],
    )


@router.get("/{campaign_id}/members", response_model=Page[MemberOut], summary="List members")
async def list_campaign_members(
    campaign_id: uuid.UUID,
    session: SessionDep,
    page: PageQuery,
    _: Annotated[Principal, require_roles(*READERS)],
) -> Page[MemberOut]:
    rows, cursor = await service.list_members(session, campaign_id, page)
    return Page[MemberOut](
        items=[
            MemberOut(
                type=m.member_type,
                id=m.member_id,
                added_by=m.added_by,
                added_at=m.added_at,
                status=m.status,
                status_reason=m.status_reason,
                status_changed_at=m.status_changed_at,
            )
            for m in rows
        ],
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
    cost = await service.add_cost(session, campaign_id, body, principal)
    return await idem.respond(201, CostOut.model_validate(cost))


@router.get("/{campaign_id}/costs", response_model=Page[CostOut], summary="List expense entries")
async def list_campaign_costs(
    campaign_id: uuid.UUID,
    session: SessionDep,
    page: PageQuery,
    _: Annotated[Principal, require_roles(*READERS)],
) -> Page[CostOut]:
    rows, cursor = await service.list_costs(session, campaign_id, page)
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
    roi = await service.campaign_roi(session, campaign_id)
    return CampaignRoi(
        campaign_id=campaign_id,
        attributed_leads=roi.attributed_leads,
        attributed_deals=roi.attributed_deals,
        won_deals=roi.won_deals,
        by_currency=[
            RoiLine(currency=x.currency, cost=x.cost, collected=x.collected, roi=x.roi) for x in roi.by_currency
        ],
    )
