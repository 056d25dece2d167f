"""Campaign use cases: campaigns, their members and expense entries, attribution checks and the ROI figures
(flush only; the caller commits)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import func, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from tessera_sales.campaigns import rules
from tessera_sales.campaigns.models import Campaign, CampaignCost, CampaignMember
from tessera_sales.campaigns.schemas import CampaignCreate, CampaignPatch, CostCreate, MembersAdd
from tessera_sales.credit.models import CollectedPayment
from tessera_sales.deals.models import Deal
from tessera_sales.leads.models import Lead
from tessera_sales.money import check_minor_units, to_minor
from tessera_shared.auth import Principal
from tessera_shared.db import utcnow
from tessera_shared.errors import InvalidInput, NotFound
from tessera_shared.http.pagination import PageParams, paginate


async def check_campaign(session: AsyncSession, campaign_id: uuid.UUID | None) -> None:
    """Attribution must name a campaign that exists (422 on campaign_id otherwise)."""
    if campaign_id is not None and await session.get(Campaign, campaign_id) is None:
        raise InvalidInput("campaign_id", "no such campaign")


async def get_campaign(session: AsyncSession, campaign_id: uuid.UUID) -> Campaign:
    campaign = await session.get(Campaign, campaign_id)
    if campaign is None:
        raise NotFound("campaign", campaign_id)
    return campaign


async def create_campaign(session: AsyncSession, data: CampaignCreate, principal: Principal) -> Campaign:
    campaign = Campaign(**data.model_dump(), created_by=principal.subject)
    session.add(campaign)
    await session.flush()
    return campaign


async def list_campaigns(session: AsyncSession, page: PageParams) -> tuple[list[Campaign], str | None]:
    return await paginate(session, select(Campaign), page, (col(Campaign.id),))


async def update_campaign(session: AsyncSession, campaign: Campaign, patch: CampaignPatch) -> None:
    """Apply the fields given (only ends_on may be null), check the result and bump the version."""
    for field in patch.model_fields_set:
        value = getattr(patch, field)
        if value is None and field != "ends_on":
            raise InvalidInput(field, "may not be null")
        setattr(campaign, field, value)
    if campaign.ends_on is not None and campaign.ends_on < campaign.starts_on:
        raise InvalidInput("ends_on", "ends_on is before starts_on")
    try:
        check_minor_units(campaign.budget, campaign.currency, "budget")
    except ValueError as exc:
        raise InvalidInput("budget", str(exc)) from None
    campaign.version += 1
    campaign.updated_at = utcnow()
    await session.flush()


async def add_members(
    session: AsyncSession, campaign_id: uuid.UUID, data: MembersAdd, principal: Principal
) -> tuple[int, int]:
    """Add the members not in the campaign yet; (added, already members)."""
    await get_campaign(session, campaign_id)
    lead_ids = [m.id for m in data.members if m.type == "lead"]
    if lead_ids:  # leads are ours to check; customers and segments live in the customer service
        found = set((await session.execute(select(col(Lead.id)).where(col(Lead.id).in_(lead_ids)))).scalars())
        for n, m in enumerate(data.members):
            if m.type == "lead" and m.id not in found:
                raise InvalidInput(f"members.{n}.id", "no such lead")
    wanted = {(m.type, m.id) for m in data.members}
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
    return len(wanted - existing), len(existing)


async def list_members(
    session: AsyncSession, campaign_id: uuid.UUID, page: PageParams
) -> tuple[list[CampaignMember], str | None]:
    await get_campaign(session, campaign_id)
    stmt = select(CampaignMember).where(col(CampaignMember.campaign_id) == campaign_id)
    return await paginate(session, stmt, page, (col(CampaignMember.member_type), col(CampaignMember.member_id)))


async def add_cost(
    session: AsyncSession, campaign_id: uuid.UUID, data: CostCreate, principal: Principal
) -> CampaignCost:
    await get_campaign(session, campaign_id)
    cost = CampaignCost(
        campaign_id=campaign_id,
        description=data.description,
        amount=data.amount,
        amount_minor=to_minor(data.amount, data.currency),
        currency=data.currency,
        incurred_on=data.incurred_on,
        recorded_by=principal.subject,
    )
    session.add(cost)
    await session.flush()
    return cost


async def list_costs(
    session: AsyncSession, campaign_id: uuid.UUID, page: PageParams
) -> tuple[list[CampaignCost], str | None]:
    await get_campaign(session, campaign_id)
    stmt = select(CampaignCost).where(col(CampaignCost.campaign_id) == campaign_id)
    return await paginate(session, stmt, page, (col(CampaignCost.id),))


@dataclass(frozen=True)
class Roi:
    attributed_leads: int
    attributed_deals: int
    won_deals: int
    by_currency: list[rules.CurrencyRoi]


async def campaign_roi(session: AsyncSession, campaign_id: uuid.UUID) -> Roi:
    """What the campaign cost, what its attributed deals collected, per currency."""
    await get_campaign(session, campaign_id)
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
    return Roi(
        attributed_leads=int(leads or 0),
        attributed_deals=sum(int(n) for n in deals.values()),
        won_deals=int(deals.get("won", 0)),
        by_currency=lines,
    )
