"""Segments: saved customer filters, their members, and the consent-checked campaign export."""

from __future__ import annotations

import logging
import re
import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import StreamingResponse

from tessera_customer.customers.repository import CustomerRepository
from tessera_customer.customers.schemas import CustomerOut
from tessera_customer.segments import service
from tessera_customer.segments.rules import ExportPurpose
from tessera_customer.segments.schemas import SegmentCreate, SegmentOut, SegmentPatch
from tessera_customer.segments.service import (
    create_segment,
    ensure_may_edit,
    export_header,
    export_rows,
    filters_of,
    load_segment,
    update_segment,
)
from tessera_shared.auth import Principal, Role, require_roles
from tessera_shared.deps import SessionDep
from tessera_shared.http.etag import check_if_match, etag_for
from tessera_shared.http.idempotency import IdempotencyDep
from tessera_shared.http.pagination import Page, PageQuery

router = APIRouter(prefix="/v1/segments", tags=["segments"])
log = logging.getLogger(__name__)

# Segments are a sales and marketing tool; the export hands out contact data in bulk.
SEGMENT_USERS = (Role.SALES_MANAGER, Role.SALES_REP, Role.SERVICE)
EXPORTERS = (Role.SALES_MANAGER, Role.SERVICE)


@router.post(
    "",
    name="create_segment",
    status_code=201,
    response_model=SegmentOut,
    summary="Save a segment (a named customer filter)",
)
async def create(
    body: SegmentCreate,
    session: SessionDep,
    idem: IdempotencyDep,
    principal: Annotated[Principal, require_roles(Role.SALES_MANAGER, Role.SALES_REP)],
) -> Response:
    if (replayed := await idem.begin(body)) is not None:
        return replayed
    segment = await create_segment(session, body, principal)
    return await idem.respond(
        201,
        SegmentOut.of(segment),
        headers={"Location": f"/v1/segments/{segment.id}", "ETag": etag_for(segment.id, segment.version)},
    )


@router.get("", response_model=Page[SegmentOut], summary="List saved segments")
async def list_segments(
    session: SessionDep,
    page: PageQuery,
    _: Annotated[Principal, require_roles(*SEGMENT_USERS)],
    created_by: Annotated[str | None, Query(max_length=200)] = None,
) -> Page[SegmentOut]:
    rows, cursor = await service.list_segments(session, page, created_by)
    return Page[SegmentOut](items=[SegmentOut.of(s) for s in rows], next_cursor=cursor)


@router.get("/{segment_id}", response_model=SegmentOut, summary="Get one segment")
async def get_segment(
    segment_id: uuid.UUID,
    session: SessionDep,
    response: Response,
    _: Annotated[Principal, require_roles(*SEGMENT_USERS)],
) -> SegmentOut:
    segment = await load_segment(session, segment_id)
    response.headers["ETag"] = etag_for(segment.id, segment.version)
    return SegmentOut.of(segment)


@router.patch("/{segment_id}", response_model=SegmentOut, summary="Change a segment (If-Match honoured)")
async def patch_segment(
    segment_id: uuid.UUID,
    body: SegmentPatch,
    request: Request,
    session: SessionDep,
    response: Response,
    principal: Annotated[Principal, require_roles(Role.SALES_MANAGER, Role.SALES_REP)],
) -> SegmentOut:
    segment = await load_segment(session, segment_id, for_update=True)
    ensure_may_edit(principal, segment)
    check_if_match(request, segment.id, segment.version)
    segment = await update_segment(session, segment, body)
    response.headers["ETag"] = etag_for(segment.id, segment.version)
    return SegmentOut.of(segment)


@router.delete("/{segment_id}", status_code=204, summary="Delete a segment (customers are untouched)")
async def delete_segment(
    segment_id: uuid.UUID,
    request: Request,
    session: SessionDep,
    principal: Annotated[Principal, require_roles(Role.SALES_MANAGER, Role.SALES_REP)],
) -> Response:
    segment = await load_segment(session, segment_id, for_update=True)
    ensure_may_edit(principal, segment)
    check_if_match(request, segment.id, segment.version)
    await service.delete_segment(session, segment)
    return Response(status_code=204)


@router.get(
    "/{segment_id}/members",
    response_model=Page[CustomerOut],
    summary="Customers matching the segment now (the customer list's query, cursor pagination)",
)
async def list_segment_members(
    segment_id: uuid.UUID,
    session: SessionDep,
    page: PageQuery,
    _: Annotated[Principal, require_roles(*SEGMENT_USERS)],
) -> Page[CustomerOut]:
    segment = await load_segment(session, segment_id)
    rows, cursor = await CustomerRepository(session).list(page, filters_of(segment))
    return Page[CustomerOut](items=[CustomerOut.of(c) for c in rows], next_cursor=cursor)


@router.get(
    "/{segment_id}/export",
    summary="Campaign list as CSV: only members with the channel's consent",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}}},
)
async def export_segment(
    segment_id: uuid.UUID,
    request: Request,
    session: SessionDep,
    principal: Annotated[Principal, require_roles(*EXPORTERS)],
    purpose: Annotated[ExportPurpose, Query(description="The campaign's channel; its consent is required")],
) -> StreamingResponse:
    segment = await load_segment(session, segment_id)
    filters = filters_of(segment)
    log.info("segment export", extra={"segment_id": str(segment.id), "purpose": purpose, "actor": principal.subject})

    async def body():
        yield export_header(purpose)
        async for chunk in export_rows(request.app.state.runtime.sessions, filters, purpose, principal.subject):
            yield chunk

    filename = re.sub(r"[^A-Za-z0-9_-]+", "-", segment.name).strip("-")[:60] or "segment"
    return StreamingResponse(
        body(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}-{purpose}.csv"'},
    )
