from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from tessera_sales.api import DEAL_READERS, SELLERS, ReadThroughDep, SettingsDep
from tessera_sales.deals import service
from tessera_sales.deals.models import Deal, DealLine
from tessera_sales.deals.schemas import (
    DealCreate,
    DealOut,
    DealPatch,
    LineItemOut,
    LoseRequest,
    ReopenRequest,
    StageChangeOut,
    StageHistory,
    WinRequest,
)
from tessera_sales.ownership import list_scope
from tessera_sales.pipelines.rules import Stages
from tessera_shared.auth import Principal, Role, require_roles
from tessera_shared.deps import SessionDep
from tessera_shared.http.etag import check_if_match, etag_for
from tessera_shared.http.idempotency import IdempotencyDep
from tessera_shared.http.pagination import Page, PageQuery
from tessera_shared.http.query import accepts_query_prefix

router = APIRouter(prefix="/v1/deals", tags=["deals"])

READERS = DEAL_READERS
WINNERS = (*SELLERS, Role.FINANCE_MANAGER)


def deal_out(deal: Deal, lines: list[DealLine], pipelines: Mapping[uuid.UUID, Stages] | None = None) -> DealOut:
    """``pipelines`` (``service.pipelines_of``) names the deal's pipeline and stage."""
    out = DealOut.model_validate(deal)
    out.line_items = [LineItemOut.model_validate(x) for x in lines]
    stages = (pipelines or {}).get(deal.pipeline_id)
    if stages is not None:
        out.pipeline_name, out.stage_name = stages.pipeline_name, stages.name(deal.stage)
    return out


async def load(session: SessionDep, deal_id: uuid.UUID, principal: Principal, *, for_update: bool = False) -> Deal:
    return await service.get_deal(session, deal_id, principal, for_update=for_update)


async def respond(session: SessionDep, deal: Deal, response: Response | None = None) -> DealOut:
    lines = await service.lines_of(session, deal.id)
    if response is not None:
        response.headers["ETag"] = etag_for(deal.id, deal.version)
    return deal_out(deal, lines, await service.pipelines_of(session, [deal]))


@router.post("", status_code=201, response_model=DealOut, summary="Create a deal")
async def create_deal(
    body: DealCreate,
    settings: SettingsDep,
    session: SessionDep,
    idem: IdempotencyDep,
    read_through: ReadThroughDep,
    principal: Annotated[Principal, require_roles(*SELLERS)],
) -> Response:
    await read_through(body.customer_id)  # before the transaction opens (§10.2)
    if (replayed := await idem.begin(body)) is not None:
        return replayed
    deal, lines = await service.create_deal(session, body, principal, settings.large_deal_thresholds)
    return await idem.respond(
        201,
        deal_out(deal, lines, await service.pipelines_of(session, [deal])),
        headers={"Location": f"/v1/deals/{deal.id}", "ETag": etag_for(deal.id, deal.version)},
    )


@router.get(
    "",
    response_model=Page[DealOut],
    summary="List deals (a rep sees own deals); ?custom_fields.<key>[op]=value filters on a custom field",
)
@accepts_query_prefix("custom_fields.")
async def list_deals(
    request: Request,
    session: SessionDep,
    page: PageQuery,
    principal: Annotated[Principal, require_roles(*READERS)],
    owner_id: Annotated[str | None, Query(max_length=200)] = None,
    customer_id: uuid.UUID | None = None,
    stage: Annotated[str | None, Query(min_length=1, max_length=40, description="a stage key")] = None,
    campaign_id: uuid.UUID | None = None,
    pipeline_id: uuid.UUID | None = None,
    tag: Annotated[str | None, Query(min_length=1, max_length=50)] = None,
    team_id: Annotated[uuid.UUID | None, Query(description="only the deals of this team")] = None,
) -> Page[DealOut]:
    scope = list_scope(principal, owner_id)
    if scope is False:
        return Page[DealOut](items=[], next_cursor=None)
    rows, next_cursor, lines = await service.list_deals(
        session,
        page,
        custom_fields=request.query_params.multi_items(),
        owner_id=scope,
        customer_id=customer_id,
        stage=stage,
        campaign_id=campaign_id,
        pipeline_id=pipeline_id,
        tag=tag,
        team_id=team_id,
    )
    pipelines = await service.pipelines_of(session, rows)
    return Page[DealOut](items=[deal_out(d, lines.get(d.id, []), pipelines) for d in rows], next_cursor=next_cursor)


@router.get("/{deal_id}", response_model=DealOut, summary="Get one deal with its line items")
async def get_deal(
    deal_id: uuid.UUID,
    session: SessionDep,
    response: Response,
    principal: Annotated[Principal, require_roles(*READERS)],
) -> DealOut:
    return await respond(session, await load(session, deal_id, principal), response)


@router.patch(
    "/{deal_id}",
    response_model=DealOut,
    summary="Change a deal (If-Match honoured)",
    responses={409: {"description": "stage move not allowed"}, 412: {"description": "stale If-Match"}},
)
async def patch_deal(
    deal_id: uuid.UUID,
    body: DealPatch,
    request: Request,
    settings: SettingsDep,
    session: SessionDep,
    response: Response,
    principal: Annotated[Principal, require_roles(*SELLERS)],
) -> DealOut:
    deal = await load(session, deal_id, principal, for_update=True)
    check_if_match(request, deal.id, deal.version)
    await service.update_deal(session, deal, body, principal, settings.large_deal_thresholds)
    return await respond(session, deal, response)


@router.get("/{deal_id}/history", response_model=StageHistory, summary="Every stage the deal entered")
async def get_deal_history(
    deal_id: uuid.UUID,
    session: SessionDep,
    principal: Annotated[Principal, require_roles(*READERS)],
) -> StageHistory:
    await load(session, deal_id, principal)
    rows = await service.stage_history(session, deal_id)
    return StageHistory(items=[StageChangeOut.model_validate(r) for r in rows])


@router.post(
    "/{deal_id}/win",
    response_model=DealOut,
    summary="Win a deal (a credit hold or a win past the credit limit needs a finance override)",
    responses={
        409: {
            "description": "closed already, the customer is on credit hold, the win passes the credit limit, "
            "or no exchange rate converts the amount into the limit's currency"
        },
        503: {
            "description": "billing has not announced the customer's credit limit yet, after waiting "
            "CREDIT_POSITION_WAIT_SECONDS for it: `credit-position-unknown`"
        },
    },
)
async def win_deal(
    deal_id: uuid.UUID,
    request: Request,
    session: SessionDep,
    idem: IdempotencyDep,
    settings: SettingsDep,
    principal: Annotated[Principal, require_roles(*WINNERS)],
    body: WinRequest | None = None,
) -> Response:
    body = body or WinRequest()
    # The deal and its customer's credit line, locked, in one statement (billing's first announcement
    # of the customer awaited first, holding nothing, when sales has none yet).
    state = await service.win_state(
        session, request.app.state.runtime.sessions, deal_id, settings.credit_position_wait_seconds
    )
    if (replayed := await idem.begin(body)) is not None:
        return replayed
    if state is not None:
        lines, stages = await service.win_loaded(session, state, body, principal)
        deal = state.deal
    else:  # no such deal (404), or the customer's credit position still unknown (503)
        deal = await load(session, deal_id, principal, for_update=True)
        lines, stages = await service.win_deal(session, deal, body, principal)
    out = deal_out(deal, lines, {deal.pipeline_id: stages})
    return await idem.respond(200, out, headers={"ETag": etag_for(deal.id, deal.version)})


@router.post("/{deal_id}/lose", response_model=DealOut, summary="Lose a deal (a reason is required)")
async def lose_deal(
    deal_id: uuid.UUID,
    body: LoseRequest,
    session: SessionDep,
    idem: IdempotencyDep,
    principal: Annotated[Principal, require_roles(*SELLERS)],
) -> Response:
    if (replayed := await idem.begin(body)) is not None:
        return replayed
    deal = await load(session, deal_id, principal, for_update=True)
    await service.lose_deal(session, deal, body, principal)
    out = await respond(session, deal)
    return await idem.respond(200, out, headers={"ETag": etag_for(deal.id, deal.version)})


@router.post("/{deal_id}/reopen", response_model=DealOut, summary="Reopen a closed deal (managers; audited)")
async def reopen_deal(
    deal_id: uuid.UUID,
    body: ReopenRequest,
    session: SessionDep,
    idem: IdempotencyDep,
    principal: Annotated[Principal, require_roles(Role.SALES_MANAGER)],
) -> Response:
    if (replayed := await idem.begin(body)) is not None:
        return replayed
    deal = await load(session, deal_id, principal, for_update=True)
    await service.reopen_deal(session, deal, body, principal)
    out = await respond(session, deal)
    return await idem.respond(200, out, headers={"ETag": etag_for(deal.id, deal.version)})
