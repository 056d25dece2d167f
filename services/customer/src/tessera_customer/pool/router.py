"""The unowned customer pool: the on-demand return run and claiming."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, StringConstraints

from tessera_customer.api import SettingsDep
from tessera_customer.customers.repository import load_customer
from tessera_customer.customers.schemas import CustomerOut
from tessera_customer.customers.service import refuse_if_erased
from tessera_customer.pool.rules import claim_owner
from tessera_customer.pool.service import claim, return_to_pool
from tessera_shared.auth import Principal, Role, require_roles
from tessera_shared.db import utcnow
from tessera_shared.deps import SessionDep
from tessera_shared.http.etag import check_if_match, etag_for
from tessera_shared.http.inputs import IsoAwareDatetime

router = APIRouter(prefix="/v1/customers", tags=["pool"])


class PoolRun(BaseModel):
    model_config = ConfigDict(extra="forbid")

    as_of: IsoAwareDatetime | None = None


class PoolRunOut(BaseModel):
    as_of: datetime
    inactive_days: int
    returned: int


class ClaimIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Managers assign to this rep; a rep may leave it out (or name themself).
    owner_id: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = None


@router.post(
    "/pool-returns",
    response_model=PoolRunOut,
    summary="Return customers whose owner was inactive to the unowned pool now (as_of drives the clock)",
)
async def run_pool_returns(
    body: PoolRun,
    request: Request,
    settings: SettingsDep,
    _: Annotated[Principal, require_roles(Role.SALES_MANAGER, Role.SERVICE)],
) -> PoolRunOut:
    as_of = body.as_of or utcnow()
    returned = await return_to_pool(request.app.state.runtime.sessions, settings, as_of)
    return PoolRunOut(as_of=as_of, inactive_days=settings.pool_inactive_days, returned=returned)


@router.post(
    "/{customer_id}/claim",
    response_model=CustomerOut,
    summary="Take an unowned customer from the pool (managers may assign it to a rep)",
)
async def claim_customer(
    customer_id: uuid.UUID,
    body: ClaimIn,
    request: Request,
    session: SessionDep,
    response: Response,
    principal: Annotated[Principal, require_roles(Role.SALES_REP, Role.SALES_MANAGER, Role.SERVICE)],
) -> CustomerOut:
    owner = claim_owner(principal, body.owner_id)
    customer = await load_customer(session, customer_id, for_update=True)
    check_if_match(request, customer.id, customer.version)
    refuse_if_erased(customer)
    await claim(session, customer, owner, principal.subject)
    response.headers["ETag"] = etag_for(customer.id, customer.version)
    return CustomerOut.of(customer)
