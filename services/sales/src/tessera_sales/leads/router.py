from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from tessera_sales.api import SELLERS, CustomerDirectoryDep, ReadThroughDep, SettingsDep
from tessera_sales.leads import service
from tessera_sales.leads.schemas import ConvertRequest, ConvertResult, LeadCreate, LeadOut, LeadPatch
from tessera_sales.ownership import list_scope
from tessera_shared.auth import Principal, require_roles
from tessera_shared.deps import SessionDep
from tessera_shared.http.etag import check_if_match, etag_for
from tessera_shared.http.idempotency import IdempotencyDep
from tessera_shared.http.pagination import Page, PageQuery
from tessera_shared.http.query import accepts_query_prefix

router = APIRouter(prefix="/v1/leads", tags=["leads"])


@router.post("", status_code=201, response_model=LeadOut, summary="Create a lead (scored at once)")
async def create_lead(
    body: LeadCreate,
    session: SessionDep,
    idem: IdempotencyDep,
    principal: Annotated[Principal, require_roles(*SELLERS)],
) -> Response:
    if (replayed := await idem.begin(body)) is not None:
        return replayed
    lead = await service.create_lead(session, body, principal)
    return await idem.respond(
        201,
        LeadOut.model_validate(lead),
        headers={"Location": f"/v1/leads/{lead.id}", "ETag": etag_for(lead.id, lead.version)},
    )


@router.get(
    "",
    response_model=Page[LeadOut],
    summary="List leads (a rep sees own leads); ?custom_fields.<key>[op]=value filters on a custom field",
)
@accepts_query_prefix("custom_fields.")
async def list_leads(
    request: Request,
    session: SessionDep,
    page: PageQuery,
    principal: Annotated[Principal, require_roles(*SELLERS)],
    status: Annotated[str | None, Query(pattern="^(new|contacted|qualified|disqualified|converted)$")] = None,
    owner_id: Annotated[str | None, Query(max_length=200)] = None,
    campaign_id: uuid.UUID | None = None,
    tag: Annotated[str | None, Query(min_length=1, max_length=50)] = None,
    team_id: Annotated[uuid.UUID | None, Query(description="only the leads of this team")] = None,
) -> Page[LeadOut]:
    scope = list_scope(principal, owner_id)
    if scope is False:
        return Page[LeadOut](items=[], next_cursor=None)
    rows, cursor = await service.list_leads(
        session,
        page,
        custom_fields=request.query_params.multi_items(),
        owner_id=scope,
        status=status,
        campaign_id=campaign_id,
        tag=tag,
        team_id=team_id,
    )
    return Page[LeadOut](items=[LeadOut.model_validate(x) for x in rows], next_cursor=cursor)


@router.get("/{lead_id}", response_model=LeadOut, summary="Get one lead with its score reasons")
async def get_lead(
    lead_id: uuid.UUID,
    session: SessionDep,
    response: Response,
    principal: Annotated[Principal, require_roles(*SELLERS)],
) -> LeadOut:
    lead = await service.get_lead(session, lead_id, principal)
    response.headers["ETag"] = etag_for(lead.id, lead.version)
    return LeadOut.model_validate(lead)


@router.patch("/{lead_id}", response_model=LeadOut, summary="Change a lead or its status (If-Match honoured)")
async def patch_lead(
    lead_id: uuid.UUID,
    body: LeadPatch,
    request: Request,
    session: SessionDep,
    response: Response,
    principal: Annotated[Principal, require_roles(*SELLERS)],
) -> LeadOut:
    lead = await service.get_lead(session, lead_id, principal, for_update=True)
    check_if_match(request, lead.id, lead.version)
    await service.update_lead(session, lead, body, principal)
    response.headers["ETag"] = etag_for(lead.id, lead.version)
    return LeadOut.model_validate(lead)


@router.post(
    "/{lead_id}/convert",
    response_model=ConvertResult,
    summary="Convert a lead into a customer (and a deal)",
    # The customer service's refusals are raised behind the CustomerDirectory port, out of the
    # document's reach from this route: their problem types are named here.
    responses={
        409: {"description": "lead not convertible, or the customer service refused its data: `customer-rejected`"},
        503: {"description": "customer service down: `upstream-unavailable`"},
    },
)
async def convert_lead(
    lead_id: uuid.UUID,
    request: Request,
    settings: SettingsDep,
    directory: CustomerDirectoryDep,
    read_through: ReadThroughDep,
    session: SessionDep,
    idem: IdempotencyDep,
    principal: Annotated[Principal, require_roles(*SELLERS)],
    body: ConvertRequest | None = None,
) -> Response:
    body = body or ConvertRequest()
    # The customer service is asked before the transaction opens (§10.2): no lock held meanwhile.
    customer = None
    if body.customer_id is not None:
        await read_through(body.customer_id)
    else:
        customer = await service.create_customer_for(request.app.state.runtime.sessions, lead_id, principal, directory)
    if (replayed := await idem.begin(body)) is not None:
        return replayed
    lead = await service.get_lead(session, lead_id, principal, for_update=True)
    created = await service.convert_lead(session, lead, body, principal, settings.large_deal_thresholds, customer)
    out = ConvertResult(
        lead=LeadOut.model_validate(lead), customer_id=lead.customer_id, customer_created=created, deal_id=lead.deal_id
    )
    return await idem.respond(200, out, headers={"ETag": etag_for(lead.id, lead.version)})
