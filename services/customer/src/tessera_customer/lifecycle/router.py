"""Lifecycle status: read with its history, admin override, and the churn run on demand."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict

from tessera_customer.api import READERS, SettingsDep
from tessera_customer.customers.repository import load_customer
from tessera_customer.customers.service import refuse_if_erased
from tessera_customer.lifecycle.rules import allowed_transitions
from tessera_customer.lifecycle.service import apply_status_override, churn_customers, status_history
from tessera_shared.auth import Principal, Role, require_roles
from tessera_shared.db import utcnow
from tessera_shared.deps import SessionDep
from tessera_shared.http.etag import check_if_match, etag_for
from tessera_shared.http.inputs import IsoAwareDatetime, Trim

router = APIRouter(prefix="/v1/customers", tags=["lifecycle"])

Status = Literal["non_customer", "prospect", "first_time", "repeat", "loyal", "churned"]


class StatusChangeOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    from_status: str
    to_status: str
    reason: str
    actor: str | None
    note: str | None
    changed_at: datetime


class StatusOut(BaseModel):
    customer_id: uuid.UUID
    status: str
    allowed_transitions: list[str]
    history: list[StatusChangeOut]


class StatusOverride(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: Status
    reason: Annotated[str, Trim(min_length=3, max_length=500)]


class ChurnRun(BaseModel):
    model_config = ConfigDict(extra="forbid")

    as_of: IsoAwareDatetime | None = None


class ChurnRunOut(BaseModel):
    as_of: datetime
    churned: list[uuid.UUID]


async def _status_out(session: SessionDep, customer_id: uuid.UUID, status: str) -> StatusOut:
    history = await status_history(session, customer_id)
    return StatusOut(
        customer_id=customer_id,
        status=status,
        allowed_transitions=allowed_transitions(status),
        history=[StatusChangeOut.model_validate(h) for h in history],
    )


@router.get("/{customer_id}/status", response_model=StatusOut, summary="Lifecycle status, allowed moves, history")
async def get_status(
    customer_id: uuid.UUID,
    session: SessionDep,
    response: Response,
    _: Annotated[Principal, require_roles(*READERS)],
) -> StatusOut:
    customer = await load_customer(session, customer_id)
    response.headers["ETag"] = etag_for(customer.id, customer.version)
    return await _status_out(session, customer.id, customer.status)


@router.post(
    "/{customer_id}/status",
    response_model=StatusOut,
    summary="Admin override of the lifecycle status (audited; only edges of the machine)",
)
async def override_status(
    customer_id: uuid.UUID,
    body: StatusOverride,
    request: Request,
    session: SessionDep,
    response: Response,
    principal: Annotated[Principal, require_roles(Role.ADMIN)],
) -> StatusOut:
    customer = await load_customer(session, customer_id, for_update=True)
    check_if_match(request, customer.id, customer.version)
    refuse_if_erased(customer)
    await apply_status_override(session, customer, body.status, actor=principal.subject, note=body.reason)
    response.headers["ETag"] = etag_for(customer.id, customer.version)
    return await _status_out(session, customer.id, customer.status)


@router.post(
    "/churn-evaluations", response_model=ChurnRunOut, summary="Run the churn window now (as_of drives the clock)"
)
async def run_churn_evaluation(
    body: ChurnRun,
    request: Request,
    settings: SettingsDep,
    _: Annotated[Principal, require_roles(Role.SALES_MANAGER, Role.SERVICE)],
) -> ChurnRunOut:
    as_of = body.as_of or utcnow()
    churned = await churn_customers(request.app.state.runtime.sessions, settings, as_of)
    return ChurnRunOut(as_of=as_of, churned=[uuid.UUID(c) for c in churned])
