from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel

from tessera_billing.api import SettingsDep, today
from tessera_billing.dunning.service import run_overdue
from tessera_shared.auth import Principal, Role, require_roles
from tessera_shared.http.inputs import IsoDate

router = APIRouter(prefix="/v1/invoices", tags=["overdue and dunning"])


class OverdueRunOut(BaseModel):
    as_of: date
    marked_overdue: int
    dunning_steps: int


@router.post(
    "/overdue-run",
    name="run_overdue",
    response_model=OverdueRunOut,
    summary="Run the overdue and dunning job now, as of a given day (the scheduled job's twin)",
)
async def overdue_run(
    request: Request,
    settings: SettingsDep,
    _: Annotated[Principal, require_roles(Role.BILLING_CLERK)],
    as_of: Annotated[IsoDate | None, Query(description="Defaults to today")] = None,
) -> OverdueRunOut:
    run = await run_overdue(request.app.state.runtime.sessions, as_of or today(), settings)
    return OverdueRunOut(as_of=run.as_of, marked_overdue=run.marked_overdue, dunning_steps=run.dunning_steps)
