from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from tessera_notifications.rules.schemas import EVENT_TYPE, RuleChange, RuleCreate, RuleOut
from tessera_notifications.rules.service import change_rule, create_rule, delete_rule, find_rule, page_of_rules
from tessera_shared.auth import Principal, Role, require_roles
from tessera_shared.deps import SessionDep
from tessera_shared.http.etag import check_if_match, etag_for
from tessera_shared.http.pagination import Page, PageQuery

router = APIRouter(prefix="/v1/notification-rules", tags=["notification-rules"])

Admin = Annotated[Principal, require_roles(Role.ADMIN)]


@router.get("", response_model=Page[RuleOut], summary="Routing rules (admin; cursor pagination)")
async def list_notification_rules(
    session: SessionDep,
    page: PageQuery,
    _: Admin,
    event_type: Annotated[str | None, Query(max_length=100, pattern=EVENT_TYPE)] = None,
) -> Page[RuleOut]:
    rows, next_cursor = await page_of_rules(session, page, event_type)
    return Page[RuleOut](items=[RuleOut.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.post("", status_code=201, response_model=RuleOut, summary="Add a routing rule (admin)")
async def add_notification_rule(body: RuleCreate, session: SessionDep, response: Response, admin: Admin) -> RuleOut:
    rule = await create_rule(session, body, admin.subject)
    response.headers["Location"] = f"/v1/notification-rules/{rule.id}"
    response.headers["ETag"] = etag_for(rule.id, rule.version)
    return RuleOut.model_validate(rule)


@router.get("/{rule_id}", response_model=RuleOut, summary="One routing rule (admin)")
async def get_notification_rule(rule_id: uuid.UUID, session: SessionDep, response: Response, _: Admin) -> RuleOut:
    rule = await find_rule(session, rule_id)
    response.headers["ETag"] = etag_for(rule.id, rule.version)
    return RuleOut.model_validate(rule)


@router.patch("/{rule_id}", response_model=RuleOut, summary="Change a routing rule (admin; If-Match optional)")
async def change_notification_rule(
    rule_id: uuid.UUID, body: RuleChange, request: Request, session: SessionDep, response: Response, admin: Admin
) -> RuleOut:
    rule = await find_rule(session, rule_id, for_update=True)
    check_if_match(request, rule.id, rule.version)
    rule = await change_rule(session, rule, body, admin.subject)
    response.headers["ETag"] = etag_for(rule.id, rule.version)
    return RuleOut.model_validate(rule)


@router.delete("/{rule_id}", status_code=204, summary="Remove a routing rule (admin)")
async def remove_notification_rule(rule_id: uuid.UUID, request: Request, session: SessionDep, admin: Admin) -> Response:
    rule = await find_rule(session, rule_id, for_update=True)
    check_if_match(request, rule.id, rule.version)
    await delete_rule(session, rule, admin.subject)
    return Response(status_code=204)
