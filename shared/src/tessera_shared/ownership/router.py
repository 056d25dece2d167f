"""``/v1/ownership/transfers``: a service's share of a bulk ownership transfer (202 with the job), followed."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StringConstraints

from tessera_shared.auth import Principal, require_roles
from tessera_shared.deps import SessionDep
from tessera_shared.once import once_per_arguments
from tessera_shared.ownership.service import (
    TRANSFER_ROLES,
    TransferRequest,
    Transfers,
    create_transfer,
    list_transfers,
    load_transfer,
)

# Every resource some service transfers (the gateway sends each to its owner).
Resource = Literal["customers", "leads", "deals", "activities", "tickets"]
UserName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class TransferIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    from_user: UserName = Field(description="the leaving owner (a username)")
    to_user: UserName = Field(description="who takes the records over")
    resources: list[Resource] | None = Field(
        default=None, min_length=1, description="what to move (default: every resource this service owns)"
    )
    only_open: StrictBool = Field(
        default=True,
        description="move only open records: deals not won or lost, leads not converted or disqualified, "
        "tickets not solved or closed, activities not done (customers are always open)",
    )


class TransferOut(BaseModel):
    id: uuid.UUID
    status: Literal["queued", "running", "succeeded", "failed"]
    from_user: str
    to_user: str
    resources: list[str]
    only_open: bool
    counts: dict[str, int] = Field(description="records moved so far, per resource")
    requested_by: str
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None

    @classmethod
    def of(cls, job: Mapping[str, Any]) -> TransferOut:
        return cls.model_validate(dict(job))


@once_per_arguments
def ownership_router(transfers: Transfers) -> APIRouter:
    router = APIRouter(prefix="/v1/ownership/transfers", tags=["ownership"])
    managers = require_roles(*TRANSFER_ROLES)

    @router.post(
        "",
        status_code=202,
        response_model=TransferOut,
        summary="Move every (open) record of one owner to another, as a job (follow it at Location)",
    )
    async def create_ownership_transfer(
        body: TransferIn, session: SessionDep, principal: Principal = managers
    ) -> Response:
        request = TransferRequest(
            body.from_user, body.to_user, list(body.resources) if body.resources else None, body.only_open
        )
        out = TransferOut.of(await create_transfer(session, transfers, request, principal))
        return Response(
            content=out.model_dump_json(),
            status_code=202,
            media_type="application/json",
            headers={"Location": f"/v1/ownership/transfers/{out.id}"},
        )

    @router.get("", response_model=list[TransferOut], summary="Ownership transfers, newest first")
    async def list_ownership_transfers(
        session: SessionDep,
        principal: Principal = managers,
        from_user: Annotated[str | None, Query(max_length=200)] = None,
        limit: Annotated[int, Query(ge=1, le=100)] = 50,
    ) -> list[TransferOut]:
        return [TransferOut.of(j) for j in await list_transfers(session, transfers, limit=limit, from_user=from_user)]

    @router.get("/{transfer_id}", response_model=TransferOut, summary="An ownership transfer's status and counts")
    async def get_ownership_transfer(
        transfer_id: uuid.UUID, session: SessionDep, principal: Principal = managers
    ) -> TransferOut:
        return TransferOut.of(await load_transfer(session, transfers, transfer_id))

    return router
