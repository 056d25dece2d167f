"""``GET /api/v1/audit-log``: who read which personal data, and when (admins only)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict

from tessera_gateway.audit.service import list_entries
from tessera_shared.auth import Principal, Role, require_roles
from tessera_shared.deps import SessionDep
from tessera_shared.http.pagination import Page, PageQuery

router = APIRouter(prefix="/api/v1/audit-log", tags=["audit"])


class AuditEntryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    at: datetime
    subject: str
    roles: list[str]
    method: str
    path: str
    customer_id: str | None
    status: int
    request_id: str | None
    subject_name: str | None = None  # an API key's name


@router.get("", response_model=Page[AuditEntryOut], summary="Reads of personal data through the gateway")
async def list_audit_entries(
    request: Request,
    session: SessionDep,
    page: PageQuery,
    _: Annotated[Principal, require_roles(Role.ADMIN)],
    subject: Annotated[str | None, Query(max_length=200)] = None,
    customer_id: Annotated[uuid.UUID | None, Query()] = None,
) -> Page[AuditEntryOut]:
    await request.app.state.runtime.rows.flush()  # what was read until now is on the list
    rows, cursor = await list_entries(session, page, subject=subject, customer_id=customer_id)
    return Page[AuditEntryOut](items=[AuditEntryOut.model_validate(r) for r in rows], next_cursor=cursor)
