"""Campaign use cases: campaigns, their members and expense entries, attribution checks and the ROI figures
(flush only; the caller commits)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import cast

from sqlalchemy import delete, func, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from tessera_sales.campaigns import rules
from tessera_sales.campaigns.models import Campaign, CampaignCost, CampaignMember, CustomerConsent
from tessera_sales.campaigns.schemas import CampaignCreate, CampaignPatch, CostCreate, MembersAdd
from tessera_sales.credit.models import CollectedPayment
from tessera_sales.deals.models import Deal
from tessera_sales.known_customers.models import KnownCustomer
from tessera_sales.leads.models import Lead
from tessera_sales.money import check_minor_units, to_minor
from tessera_shared.auth import Principal
from tessera_shared.db import utcnow
from tessera_shared.errors import InvalidInput, NotFound
from tessera_shared.events.contracts import CampaignMemberStatusChanged, CustomerConsentChanged
from tessera_shared.events.contracts.sales import CampaignMemberStatus
from tessera_shared.http.pagination import PageParams, paginate
from tessera_shared.outbox import publish


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
    if "channel" in patch.model_fields_set:  # another channel may need another consent
        members = (
            await session.scalars(
                select(CampaignMember).where(
                    col(CampaignMember.campaign_id) == campaign.id, col(CampaignMember.member_type) == "customer"
                )
            )
        ).all()
        await _recheck(session, [(m, campaign.channel) for m in members])


@dataclass(frozen=True)
class Skipped:
    member_type: str
    member_id: uuid.UUID
    reason: str
    message: str


@dataclass(frozen=True)
class MembersResult:
    added: int
    already_members: int
    skipped: list[Skipped]


async def add_members(
    session: AsyncSession, campaign_id: uuid.UUID, data: MembersAdd, principal: Principal
) -> MembersResult:
    """Add the members not in the campaign yet. A customer needs the consent the campaign's channel asks
    for (docs/domain.md §10.4): asked for alone, one without it is refused (422 naming it and why); in a
    request of several, it is skipped and reported, and the others are added."""
    campaign = await get_campaign(session, campaign_id)
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
    new = wanted - existing
    checks = await member_checks(session, campaign.channel, [i for t, i in new if t == "customer"])
    refused = {i: c for i, c in checks.items() if not c.allowed}
    if refused and len(data.members) == 1:
        check = refused[data.members[0].id]
        raise InvalidInput("members.0.id", f"customer {data.members[0].id}: {check.message}", kind=str(check.reason))
    added = sorted((m for m in new if not (m[0] == "customer" and m[1] in refused)), key=str)
    for member_type, member_id in added:
        session.add(
            CampaignMember(
                campaign_id=campaign_id, member_type=member_type, member_id=member_id, added_by=principal.subject
            )
        )
    await session.flush()
    skipped = [Skipped("customer", i, str(c.reason), c.message) for i, c in sorted(refused.items(), key=str)]
    return MembersResult(len(added), len(existing), skipped)


async def member_checks(
    session: AsyncSession, channel: str, customer_ids: list[uuid.UUID]
) -> dict[uuid.UUID, rules.MemberCheck]:
    """The consent check of each customer for a campaign on ``channel``, from the local copies."""
    if not customer_ids:
        return {}
    # Locked: a withdrawal being applied meanwhile (it updates the row) is waited for and then seen,
    # or it waits for this request and then finds the new member to suspend.
    consents = await consents_of(session, customer_ids, lock=True)
    erased = await erased_of(session, customer_ids)
    return {i: rules.check_member(channel, consents.get(i, {}), erased=i in erased) for i in customer_ids}


async def erased_of(session: AsyncSession, customer_ids: list[uuid.UUID]) -> set[uuid.UUID]:
    """Those of the customers the local copy knows to be erased."""
    stmt = select(col(KnownCustomer.customer_id)).where(
        col(KnownCustomer.customer_id).in_(customer_ids), col(KnownCustomer.erased_at).is_not(None)
    )
    return set((await session.scalars(stmt)).all())


async def consents_of(
    session: AsyncSession, customer_ids: list[uuid.UUID], *, lock: bool = False
) -> dict[uuid.UUID, dict[str, bool]]:
    """The kept answers per customer (purpose → granted); ``lock`` holds their rows to the commit
    (``FOR UPDATE`` on PostgreSQL; SQLite has one writer at a time anyway)."""
    out: dict[uuid.UUID, dict[str, bool]] = {}
    stmt = select(col(CustomerConsent.customer_id), col(CustomerConsent.purpose), col(CustomerConsent.granted)).where(
        col(CustomerConsent.customer_id).in_(customer_ids)
    )
    rows = await session.execute(stmt.with_for_update() if lock else stmt)
    for customer_id, purpose, granted in rows.all():
        out.setdefault(customer_id, {})[purpose] = granted
    return out


async def record_consent(session: AsyncSession, data: CustomerConsentChanged) -> bool:
    """Keep the newest answer per (customer, purpose); False when this one is older than what is kept."""
    row = await session.get(CustomerConsent, (data.customer_id, data.purpose))
    if row is None:
        session.add(
            CustomerConsent(
                customer_id=data.customer_id,
                purpose=data.purpose,
                granted=data.granted,
                source=data.source,
                changed_at=data.changed_at,
            )
        )
    elif data.changed_at >= row.changed_at:
        row.granted, row.source, row.changed_at = data.granted, data.source, data.changed_at
    else:
        return False
    await session.flush()
    return True


async def withdraw_all_consents(session: AsyncSession, customer_id: uuid.UUID, at: datetime) -> None:
    """An erased customer can be contacted no more: every kept answer becomes a withdrawal."""
    rows = (await session.scalars(select(CustomerConsent).where(col(CustomerConsent.customer_id) == customer_id))).all()
    for row in rows:
        row.granted, row.source, row.changed_at = False, "erasure", max(at, row.changed_at)
    await session.flush()


async def merge_members(session: AsyncSession, merged_id: uuid.UUID, survivor_id: uuid.UUID) -> None:
    """The merged customer's memberships become the survivor's (one per campaign: where the survivor is
    a member already, its own row stays); its kept answers go (the customer service announces what the
    survivor takes over), and the survivor's memberships are checked against its consent."""
    rows = (
        await session.scalars(
            select(CampaignMember).where(
                col(CampaignMember.member_type) == "customer", col(CampaignMember.member_id) == merged_id
            )
        )
    ).all()
    if rows:
        theirs = set(
            (
                await session.scalars(
                    select(col(CampaignMember.campaign_id)).where(
                        col(CampaignMember.member_type) == "customer",
                        col(CampaignMember.member_id) == survivor_id,
                        col(CampaignMember.campaign_id).in_([r.campaign_id for r in rows]),
                    )
                )
            ).all()
        )
        for row in rows:
            if row.campaign_id in theirs:
                await session.delete(row)
            else:
                row.member_id = survivor_id
    await session.execute(delete(CustomerConsent).where(col(CustomerConsent.customer_id) == merged_id))
    await session.flush()
    await recheck_customer(session, survivor_id)


async def recheck_customer(session: AsyncSession, customer_id: uuid.UUID) -> None:
    """Check the customer's memberships of every campaign again (after a consent change or an erasure)."""
    rows = (
        await session.execute(
            select(CampaignMember, col(Campaign.channel))
            .join(Campaign, col(Campaign.id) == col(CampaignMember.campaign_id))
            .where(col(CampaignMember.member_type) == "customer", col(CampaignMember.member_id) == customer_id)
        )
    ).all()
    await _recheck(session, [(m, channel) for m, channel in rows])


async def _recheck(session: AsyncSession, members: list[tuple[CampaignMember, str]]) -> None:
    """Suspend the customer members whose consent is gone, make active again those whose consent is back
    (an erased customer's stay suspended); each move is recorded with its reason and announced."""
    if not members:
        return
    ids = list({m.member_id for m, _ in members})
    consents = await consents_of(session, ids)
    erased = await erased_of(session, ids)
    now = utcnow()
    for member, channel in members:
        check = rules.check_member(channel, consents.get(member.member_id, {}), erased=member.member_id in erased)
        to_status, reason = ("active", "consent_given") if check.allowed else ("suspended", str(check.reason))
        if member.status == to_status and (to_status == "active" or member.status_reason == reason):
            continue
        from_status = member.status
        member.status, member.status_reason, member.status_changed_at = to_status, reason, now
        if from_status != to_status:
            await publish(
                session,
                CampaignMemberStatusChanged(
                    campaign_id=member.campaign_id,
                    customer_id=member.member_id,
                    from_status=cast(CampaignMemberStatus, from_status),
                    to_status=cast(CampaignMemberStatus, to_status),
                    reason=reason,
                    changed_at=now,
                ),
                subject=member.member_id,
            )
    await session.flush()


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
