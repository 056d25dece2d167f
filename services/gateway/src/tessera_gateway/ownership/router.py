"""``/api/v1/ownership``: move every (open) record of a leaving owner to another, as one audited job."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StringConstraints

from tessera_gateway.audit import service as audit
from tessera_gateway.ownership import service
from tessera_shared.auth import Principal, Role, require_roles
from tessera_shared.deps import SessionDep
from tessera_shared.http.idempotency import IdempotencyDep

router = APIRouter(prefix="/api/v1/ownership", tags=["ownership"])
managers = require_roles(Role.SALES_MANAGER)

Resource = Literal["customers", "leads", "deals", "activities", "tickets"]
UserName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Status = Literal["queued", "running", "succeeded", "failed"]


class TransferIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    from_user: UserName = Field(description="the leaving owner: a known user account")
    to_user: UserName = Field(description="who takes the records over: a known user account")
    resources: list[Resource] | None = Field(
        default=None,
        min_length=1,
        description="what to move (default: all of customers, leads, deals, activities, tickets)",
    )
    only_open: StrictBool = Field(
        default=True,
        description="move only open records: deals not won or lost, leads not converted or disqualified, "
        "tickets not solved or closed, activities not done (customers are always open)",
    )


class TransferPart(BaseModel):
    service: str
    id: uuid.UUID | None = Field(description="the service's own job id (null: the service did not take its share)")
    resources: list[str]
    status: Literal["queued", "running", "succeeded", "failed", "unknown"]
    counts: dict[str, int]
    error: str | None
    finished_at: datetime | None


class TransferOut(BaseModel):
    id: uuid.UUID
    status: Status
    from_user: str
    to_user: str
    resources: list[str]
    only_open: bool
    counts: dict[str, int] = Field(description="records moved so far, per resource")
    requested_by: str
    created_at: datetime
    finished_at: datetime | None
    parts: list[TransferPart] = Field(description="each owning service's share")


def _authorization(request: Request) -> str:
    return request.headers["authorization"]


@router.post(
    "/transfer",
    status_code=202,
    response_model=TransferOut,
    summary="Move every (open) record of one owner to another: one job, each record with its event",
    description="Each owning service moves its records in batches, each with its usual `*.updated` event, and "
    "announces its share (`ownership.*_transferred`). Follow the job at `Location`. 422 names an unknown "
    "user or `to_user` equal to `from_user`; 503 when no owning service could take its share. A retry with "
    "the same `Idempotency-Key` answers the first 202 again and starts no second job.",
)
async def transfer_ownership(
    body: TransferIn, request: Request, session: SessionDep, idem: IdempotencyDep, principal: Principal = managers
) -> Response:
    if (replayed := await idem.begin(body)) is not None:
        return replayed
    state = request.app.state
    resources = service.check_request(
        state.accounts,
        body.from_user,
        body.to_user,
        None if body.resources is None else [str(r) for r in body.resources],
    )
    row = await service.start_transfer(
        session,
        state.clients,
        state.upstreams,
        principal,
        from_user=body.from_user,
        to_user=body.to_user,
        resources=resources,
        only_open=body.only_open,
        authorization=_authorization(request),
    )
    audit.record(state.runtime, principal, "POST", "ownership/transfer", 202)
    out = TransferOut.model_validate(
        await service.describe(state.clients, state.upstreams, row, _authorization(request))
    )
    # Kept with the key in this transaction: the answer exists exactly when the job's row does.
    return await idem.respond(202, out, headers={"Location": f"/api/v1/ownership/transfers/{out.id}"})


@router.get("/transfers", response_model=list[TransferOut], summary="Ownership transfers, newest first")
async def list_ownership_transfers(
    request: Request,
    session: SessionDep,
    principal: Principal = managers,
    from_user: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=50)] = 20,
) -> list[TransferOut]:
    state = request.app.state
    rows = await service.list_transfers(session, limit=limit, from_user=from_user)
    return [
        TransferOut.model_validate(await service.describe(state.clients, state.upstreams, r, _authorization(request)))
        for r in rows
    ]


@router.get(
    "/transfers/{transfer_id}",
    response_model=TransferOut,
    summary="An ownership transfer: its status and counts, summed over the services' shares",
)
async def get_ownership_transfer(
    transfer_id: uuid.UUID, request: Request, session: SessionDep, principal: Principal = managers
) -> TransferOut:
    state = request.app.state
    row = await service.get_transfer(session, transfer_id)
    return TransferOut.model_validate(
        await service.describe(state.clients, state.upstreams, row, _authorization(request))
    )
