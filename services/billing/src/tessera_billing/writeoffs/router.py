from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Body, Query, Request, Response

from tessera_billing.api import today
from tessera_billing.invoices.repository import InvoiceRepository
from tessera_billing.writeoffs.models import WriteOff
from tessera_billing.writeoffs.rules import WriteOffStatus
from tessera_billing.writeoffs.schemas import WriteOffCreate, WriteOffDecision, WriteOffOut
from tessera_billing.writeoffs.service import (
    approve_write_off,
    find_write_off,
    page_of_write_offs,
    reject_write_off,
    request_write_off,
)
from tessera_shared.auth import Principal, Role, require_roles
from tessera_shared.deps import SessionDep
from tessera_shared.errors import InvalidInput, NotFound
from tessera_shared.http.etag import check_if_match, etag_for
from tessera_shared.http.idempotency import IdempotencyDep
from tessera_shared.http.pagination import Page, PageQuery

router = APIRouter(prefix="/v1/write-offs", tags=["write-offs"])

REQUESTERS = (Role.BILLING_CLERK,)
APPROVERS = (Role.FINANCE_MANAGER,)
READERS = (Role.BILLING_CLERK, Role.FINANCE_MANAGER)


@router.post("", status_code=201, response_model=WriteOffOut, summary="Request a write-off (billing_clerk)")
async def create_write_off(
    body: WriteOffCreate,
    session: SessionDep,
    idem: IdempotencyDep,
    principal: Annotated[Principal, require_roles(*REQUESTERS)],
) -> Response:
    if (replayed := await idem.begin(body)) is not None:
        return replayed
    invoice = await InvoiceRepository(session).get(body.invoice_id, for_update=True)
    if invoice is None:
        raise InvalidInput("invoice_id", "no such invoice")
    write_off = await request_write_off(session, invoice, body.reason, principal.subject)
    return await idem.respond(
        201,
        WriteOffOut.model_validate(write_off),
        headers={"Location": f"/v1/write-offs/{write_off.id}", "ETag": etag_for(write_off.id, write_off.version)},
    )


@router.get("", response_model=Page[WriteOffOut], summary="List write-off requests (cursor pagination)")
async def list_write_offs(
    session: SessionDep,
    page: PageQuery,
    _: Annotated[Principal, require_roles(*READERS)],
    status: Annotated[WriteOffStatus | None, Query()] = None,
    invoice_id: uuid.UUID | None = None,
) -> Page[WriteOffOut]:
    rows, next_cursor = await page_of_write_offs(session, page, status=status, invoice_id=invoice_id)
    return Page[WriteOffOut](items=[WriteOffOut.model_validate(r) for r in rows], next_cursor=next_cursor)


async def load(session: SessionDep, write_off_id: uuid.UUID, *, for_update: bool = False) -> WriteOff:
    write_off = await find_write_off(session, write_off_id, for_update=for_update)
    if write_off is None:
        raise NotFound("write-off", write_off_id)
    return write_off


@router.get("/{write_off_id}", response_model=WriteOffOut, summary="One write-off request")
async def get_write_off(
    write_off_id: uuid.UUID,
    session: SessionDep,
    response: Response,
    _: Annotated[Principal, require_roles(*READERS)],
) -> WriteOffOut:
    write_off = await load(session, write_off_id)
    response.headers["ETag"] = etag_for(write_off.id, write_off.version)
    return WriteOffOut.model_validate(write_off)


async def _decidable(session: SessionDep, request: Request, write_off_id: uuid.UUID) -> WriteOff:
    """The write-off, locked, at the version the client read (the decision's rules are the service's)."""
    write_off = await load(session, write_off_id, for_update=True)
    check_if_match(request, write_off.id, write_off.version)
    return write_off


@router.post(
    "/{write_off_id}/approve",
    name="approve_write_off",
    response_model=WriteOffOut,
    summary="Approve: the invoice is written off (finance_manager, not the requester)",
)
async def approve(
    write_off_id: uuid.UUID,
    request: Request,
    session: SessionDep,
    response: Response,
    principal: Annotated[Principal, require_roles(*APPROVERS)],
    body: Annotated[WriteOffDecision | None, Body()] = None,
) -> WriteOffOut:
    write_off = await _decidable(session, request, write_off_id)
    invoice = await InvoiceRepository(session).get(write_off.invoice_id, for_update=True)
    assert invoice is not None  # noqa: S101 - an invariant (a foreign key holds it), not a check of input
    await approve_write_off(session, write_off, invoice, principal.subject, body.note if body else None, today())
    response.headers["ETag"] = etag_for(write_off.id, write_off.version)
    return WriteOffOut.model_validate(write_off)


@router.post(
    "/{write_off_id}/reject",
    name="reject_write_off",
    response_model=WriteOffOut,
    summary="Reject the request (finance_manager, not the requester)",
)
async def reject(
    write_off_id: uuid.UUID,
    request: Request,
    session: SessionDep,
    response: Response,
    principal: Annotated[Principal, require_roles(*APPROVERS)],
    body: Annotated[WriteOffDecision | None, Body()] = None,
) -> WriteOffOut:
    write_off = await _decidable(session, request, write_off_id)
    await reject_write_off(session, write_off, principal.subject, body.note if body else None)
    response.headers["ETag"] = etag_for(write_off.id, write_off.version)
    return WriteOffOut.model_validate(write_off)
