from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from tessera_customer.api import READERS
from tessera_customer.customers.repository import load_customer
from tessera_customer.timeline.schemas import TimelineEntryOut
from tessera_customer.timeline.service import page_of
from tessera_shared.auth import Principal, require_roles
from tessera_shared.deps import SessionDep
from tessera_shared.http.pagination import Page, PageQuery

router = APIRouter(prefix="/v1/customers", tags=["timeline"])


@router.get(
    "/{customer_id}/timeline",
    response_model=Page[TimelineEntryOut],
    summary="Every fact about the customer from every service, newest first",
)
async def get_timeline(
    customer_id: uuid.UUID,
    session: SessionDep,
    page: PageQuery,
    principal: Annotated[Principal, require_roles(*READERS)],
    kind: Annotated[str | None, Query(max_length=60, description="e.g. deal.won")] = None,
) -> Page[TimelineEntryOut]:
    await load_customer(session, customer_id)
    rows, cursor = await page_of(session, customer_id, principal, kind, page)
    return Page[TimelineEntryOut](items=[TimelineEntryOut.model_validate(r) for r in rows], next_cursor=cursor)
