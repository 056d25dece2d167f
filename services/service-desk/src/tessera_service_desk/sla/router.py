"""SLA policies and agreements, the breach job on demand, and the escalation queue."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from tessera_service_desk.api import AGENTS, NO_NUL, instant, read_through_of, settings_of
from tessera_service_desk.jobs import auto_close_solved
from tessera_service_desk.sla import agreements
from tessera_service_desk.sla.models import SlaPolicy
from tessera_service_desk.sla.schemas import (
    AgreementOut,
    AgreementPut,
    PolicyCreate,
    PolicyOut,
    PolicyPatch,
)
from tessera_service_desk.sla.service import (
    add_policy,
    find_policy,
    page_of_notifications,
    page_of_policies,
    remove_policy,
    scan_breaches,
)
from tessera_service_desk.tickets.schemas import JobRunOut, NotificationOut
from tessera_shared.auth import Principal, Role, require_roles
from tessera_shared.db import utcnow
from tessera_shared.deps import SessionDep
from tessera_shared.errors import InvalidInput, NotFound
from tessera_shared.http.etag import check_if_match, etag_for
from tessera_shared.http.idempotency import IdempotencyDep
from tessera_shared.http.inputs import IsoDatetime
from tessera_shared.http.pagination import Page, PageQuery

policies = APIRouter(prefix="/v1/sla-policies", tags=["sla"])
jobs = APIRouter(prefix="/v1/tickets", tags=["sla"])

POLICY_READERS = (*AGENTS, Role.SALES_MANAGER)
AsOf = Annotated[IsoDatetime | None, Query(description="Run as of this time (default: now); tests move it forward")]


def _as_of(value: datetime | None) -> datetime:
    return instant("as_of", value) or utcnow()


@policies.put(
    "/agreements/{customer_id}",
    response_model=AgreementOut,
    summary="Set a customer's service agreement level (an SLA policy axis)",
)
async def put_agreement(
    customer_id: uuid.UUID,
    body: AgreementPut,
    request: Request,
    session: SessionDep,
    _: Annotated[Principal, require_roles()],
) -> AgreementOut:
    await read_through_of(request)(customer_id, location="path")  # before the transaction opens (§10.2)
    known = await agreements.put_agreement(session, customer_id, body.service_level)
    return AgreementOut(customer_id=customer_id, service_level=known.service_level, tier=known.tier)


@policies.post("", status_code=201, response_model=PolicyOut, summary="Create an SLA policy (admin)")
async def create_policy(
    body: PolicyCreate, session: SessionDep, idem: IdempotencyDep, _: Annotated[Principal, require_roles()]
) -> Response:
    if (replayed := await idem.begin(body)) is not None:
        return replayed
    policy = SlaPolicy(**body.model_dump())
    await add_policy(session, policy)
    return await idem.respond(
        201,
        PolicyOut.model_validate(policy),
        headers={"Location": f"/v1/sla-policies/{policy.id}", "ETag": etag_for(policy.id, policy.version)},
    )


@policies.get("", response_model=Page[PolicyOut], summary="List SLA policies")
async def list_policies(
    session: SessionDep, page: PageQuery, _: Annotated[Principal, require_roles(*POLICY_READERS)]
) -> Page[PolicyOut]:
    rows, cursor = await page_of_policies(session, page)
    return Page[PolicyOut](items=[PolicyOut.model_validate(p) for p in rows], next_cursor=cursor)


async def _policy(session: SessionDep, policy_id: uuid.UUID) -> SlaPolicy:
    policy = await find_policy(session, policy_id)
    if policy is None:
        raise NotFound("SLA policy", policy_id)
    return policy


@policies.get("/{policy_id}", response_model=PolicyOut, summary="One SLA policy")
async def get_policy(
    policy_id: uuid.UUID,
    session: SessionDep,
    response: Response,
    _: Annotated[Principal, require_roles(*POLICY_READERS)],
) -> PolicyOut:
    policy = await _policy(session, policy_id)
    response.headers["ETag"] = etag_for(policy.id, policy.version)
    return PolicyOut.model_validate(policy)


@policies.patch(
    "/{policy_id}",
    response_model=PolicyOut,
    summary="Change targets (applies to tickets opened or re-prioritised afterwards)",
)
async def patch_policy(
    policy_id: uuid.UUID,
    body: PolicyPatch,
    request: Request,
    session: SessionDep,
    response: Response,
    _: Annotated[Principal, require_roles()],
) -> PolicyOut:
    policy = await _policy(session, policy_id)
    check_if_match(request, policy.id, policy.version)
    if "business_hours" in body.model_fields_set and body.business_hours is None:
        raise InvalidInput("business_hours", "may not be null")
    for name in body.model_fields_set:
        setattr(policy, name, getattr(body, name))
    policy.version += 1
    policy.updated_at = utcnow()
    response.headers["ETag"] = etag_for(policy.id, policy.version)
    return PolicyOut.model_validate(policy)


@policies.delete("/{policy_id}", status_code=204, summary="Delete an SLA policy (defaults apply again)")
async def delete_policy(
    policy_id: uuid.UUID, session: SessionDep, _: Annotated[Principal, require_roles()]
) -> Response:
    await remove_policy(session, await _policy(session, policy_id))
    return Response(status_code=204)


@jobs.post(
    "/breach-scan", response_model=JobRunOut, summary="Run the SLA breach job now (admin): each breach is detected once"
)
async def run_breach_scan(request: Request, _: Annotated[Principal, require_roles()], as_of: AsOf = None) -> JobRunOut:
    now = _as_of(as_of)
    processed = await scan_breaches(request.app.state.runtime.sessions, now, settings_of(request))
    return JobRunOut(as_of=now, processed=processed)


@jobs.post(
    "/auto-close", response_model=JobRunOut, summary="Close tickets solved longer ago than the auto-close delay (admin)"
)
async def run_auto_close(request: Request, _: Annotated[Principal, require_roles()], as_of: AsOf = None) -> JobRunOut:
    now = _as_of(as_of)
    processed = await auto_close_solved(request.app.state.runtime.sessions, now, settings_of(request))
    return JobRunOut(as_of=now, processed=processed)


@jobs.get(
    "/notifications",
    response_model=Page[NotificationOut],
    summary="Escalation notifications for a tier (the next tier's queue)",
)
async def list_notifications(
    session: SessionDep,
    page: PageQuery,
    _: Annotated[Principal, require_roles(*AGENTS, Role.SALES_MANAGER)],
    group: Annotated[str | None, Query(max_length=100, pattern=NO_NUL)] = None,
    ticket_id: uuid.UUID | None = None,
) -> Page[NotificationOut]:
    rows, cursor = await page_of_notifications(session, page, group=group, ticket_id=ticket_id)
    return Page[NotificationOut](items=[NotificationOut.model_validate(n) for n in rows], next_cursor=cursor)
