"""POST /v1/leads/tags and /v1/deals/tags: tags added to and removed from many records at once
(tessera_shared.tags, issue 24 part 3).

Each record changes through its PATCH's use case (lead.updated / deal.updated with
``changes.tags``) under the PATCH's rules: a record the caller may not see is answered 404 as a
missing one, and what the caller may see is what they may change (the owner rules of
``tessera_sales.ownership``).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Response
from sqlalchemy.ext.asyncio import AsyncSession

from tessera_sales.api import SELLERS, SettingsDep
from tessera_sales.deals import service as deals
from tessera_sales.deals.models import Deal
from tessera_sales.deals.schemas import DealPatch
from tessera_sales.leads import service as leads
from tessera_sales.leads.models import Lead
from tessera_sales.leads.schemas import LeadPatch
from tessera_sales.ownership import may_see
from tessera_shared.auth import Principal, require_roles
from tessera_shared.deps import SessionDep
from tessera_shared.http.batch import BatchUpsertResult
from tessera_shared.http.idempotency import IdempotencyDep
from tessera_shared.tags import BULK_RESPONSES, BulkTags, bulk_description, bulk_tag, locked_by_id

deals_router = APIRouter(prefix="/v1/deals", tags=["deals"])
leads_router = APIRouter(prefix="/v1/leads", tags=["leads"])
routers = [deals_router, leads_router]


async def visible(session: AsyncSession, model: type[Any], ids: list[uuid.UUID], principal: Principal) -> dict:
    """The records of ``ids`` the principal may see, locked for the change, in id order."""
    rows = await locked_by_id(session, model, ids)
    return {i: r for i, r in rows.items() if may_see(principal, r.owner_id, r.team_id)}


@leads_router.post(
    "/tags",
    response_model=BatchUpsertResult,
    responses=BULK_RESPONSES,
    summary="Add and remove tags on up to 1,000 leads (a rep: own leads)",
    description=bulk_description("leads"),
)
async def tag_leads(
    body: BulkTags,
    session: SessionDep,
    idem: IdempotencyDep,
    principal: Annotated[Principal, require_roles(*SELLERS)],
) -> Response:
    if (replayed := await idem.begin(body)) is not None:
        return replayed

    async def load(ids: list[uuid.UUID]) -> Mapping[uuid.UUID, Lead]:
        return await visible(session, Lead, ids, principal)

    async def change(lead: Lead, tags: list[str]) -> None:
        await leads.update_lead(session, lead, LeadPatch(tags=tags), principal)

    status, result = await bulk_tag(body, "lead", load, change)
    return await idem.respond(status, result)


@deals_router.post(
    "/tags",
    response_model=BatchUpsertResult,
    responses=BULK_RESPONSES,
    summary="Add and remove tags on up to 1,000 deals (a rep: own deals)",
    description=bulk_description("deals"),
)
async def tag_deals(
    body: BulkTags,
    session: SessionDep,
    settings: SettingsDep,
    idem: IdempotencyDep,
    principal: Annotated[Principal, require_roles(*SELLERS)],
) -> Response:
    if (replayed := await idem.begin(body)) is not None:
        return replayed

    async def load(ids: list[uuid.UUID]) -> Mapping[uuid.UUID, Deal]:
        return await visible(session, Deal, ids, principal)

    async def change(deal: Deal, tags: list[str]) -> None:
        await deals.update_deal(session, deal, DealPatch(tags=tags), principal, settings.large_deal_thresholds)

    status, result = await bulk_tag(body, "deal", load, change)
    return await idem.respond(status, result)
