from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from tessera_sales.activities import service
from tessera_sales.activities.schemas import (
    ActivityCreate,
    ActivityOut,
    ActivityPatch,
    OverdueOwner,
    OverdueReport,
    ReminderRun,
)
from tessera_sales.api import SELLERS, ReadThroughDep
from tessera_sales.ownership import list_scope, scope_owner
from tessera_shared.auth import Principal, Role, require_roles
from tessera_shared.db import utcnow
from tessera_shared.deps import SessionDep
from tessera_shared.http.etag import check_if_match, etag_for
from tessera_shared.http.idempotency import IdempotencyDep
from tessera_shared.http.inputs import IsoAwareDatetime
from tessera_shared.http.pagination import Page, PageQuery

router = APIRouter(prefix="/v1/activities", tags=["activities"])


@router.post("", status_code=201, response_model=ActivityOut, summary="Log an activity or schedule a task")
async def create_activity(
    body: ActivityCreate,
    session: SessionDep,
    idem: IdempotencyDep,
    read_through: ReadThroughDep,
    principal: Annotated[Principal, require_roles(*SELLERS)],
) -> Response:
    if body.customer_id is not None:
        await read_through(body.customer_id)  # before the transaction opens (§10.2)
    if (replayed := await idem.begin(body)) is not None:
        return replayed
    activity = await service.log_activity(session, body, principal)
    return await idem.respond(
        201,
        ActivityOut.model_validate(activity),
        headers={"Location": f"/v1/activities/{activity.id}", "ETag": etag_for(activity.id, activity.version)},
    )


@router.get("", response_model=Page[ActivityOut], summary="List activities (a rep sees own)")
async def list_activities(
    session: SessionDep,
    page: PageQuery,
    principal: Annotated[Principal, require_roles(*SELLERS)],
    owner_id: Annotated[str | None, Query(max_length=200)] = None,
    customer_id: uuid.UUID | None = None,
    lead_id: uuid.UUID | None = None,
    deal_id: uuid.UUID | None = None,
    kind: Annotated[str | None, Query(pattern="^(call|meeting|email|visit|note|task)$")] = None,
    open: Annotated[bool | None, Query(description="only tasks not completed (true) or completed (false)")] = None,
) -> Page[ActivityOut]:
    scope = list_scope(principal, owner_id)
    if scope is False:
        return Page[ActivityOut](items=[], next_cursor=None)
    rows, cursor = await service.list_activities(
        session,
        page,
        owner_id=scope,
        customer_id=customer_id,
        lead_id=lead_id,
        deal_id=deal_id,
        kind=kind,
        open=open,
    )
    return Page[ActivityOut](items=[ActivityOut.model_validate(a) for a in rows], next_cursor=cursor)


@router.get("/overdue", response_model=OverdueReport, summary="Overdue tasks per owner")
async def list_overdue_tasks(
    session: SessionDep,
    principal: Annotated[Principal, require_roles(*SELLERS)],
    as_of: IsoAwareDatetime | None = None,
) -> OverdueReport:
    as_of = as_of or utcnow()
    rows = await service.overdue_by_owner(session, as_of, scope_owner(principal))
    return OverdueReport(
        as_of=as_of, owners=[OverdueOwner(owner_id=o, overdue_tasks=n, oldest_due_at=d) for o, n, d in rows]
    )


@router.post("/reminders/run", response_model=ReminderRun, summary="Fire due reminders now (the job, on demand)")
async def run_reminders(
    request: Request,
    _: Annotated[Principal, require_roles(Role.SALES_MANAGER)],
    as_of: IsoAwareDatetime | None = None,
) -> ReminderRun:
    as_of = as_of or utcnow()
    fired = await service.fire_reminders(request.app.state.runtime.sessions, as_of)
    return ReminderRun(as_of=as_of, fired=fired)


@router.get("/{activity_id}", response_model=ActivityOut, summary="Get one activity")
async def get_activity(
    activity_id: uuid.UUID,
    session: SessionDep,
    response: Response,
    principal: Annotated[Principal, require_roles(*SELLERS)],
) -> ActivityOut:
    activity = await service.get_activity(session, activity_id, principal)
    response.headers["ETag"] = etag_for(activity.id, activity.version)
    return ActivityOut.model_validate(activity)


@router.patch("/{activity_id}", response_model=ActivityOut, summary="Reschedule or complete (If-Match honoured)")
async def patch_activity(
    activity_id: uuid.UUID,
    body: ActivityPatch,
    request: Request,
    session: SessionDep,
    response: Response,
    principal: Annotated[Principal, require_roles(*SELLERS)],
) -> ActivityOut:
    activity = await service.get_activity(session, activity_id, principal)
    check_if_match(request, activity.id, activity.version)
    await service.update_activity(session, activity, body, principal.subject)
    response.headers["ETag"] = etag_for(activity.id, activity.version)
    return ActivityOut.model_validate(activity)
