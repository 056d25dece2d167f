"""Duplicate candidates with their reasons, and merging one into the other."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict

from tessera_customer.api import SettingsDep
from tessera_customer.customers.models import Customer
from tessera_customer.customers.repository import load_customer
from tessera_customer.customers.schemas import CustomerOut
from tessera_customer.customers.service import refuse_if_erased
from tessera_customer.dedup.repository import candidates_for, duplicate_pairs
from tessera_customer.dedup.rules import Candidate, match_reasons
from tessera_customer.dedup.service import merge
from tessera_shared.auth import Principal, Role, require_roles
from tessera_shared.deps import SessionDep
from tessera_shared.errors import Conflict
from tessera_shared.http.etag import check_if_match, etag_for
from tessera_shared.http.pagination import Page, PageQuery

router = APIRouter(prefix="/v1/customers", tags=["dedup"])


class DuplicatePair(BaseModel):
    customer_id: uuid.UUID
    duplicate_id: uuid.UUID
    customer_name: str
    duplicate_name: str
    reasons: list[str]


class MergeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    duplicate_id: uuid.UUID


def _candidate(c: Customer) -> Candidate:
    return Candidate(kind=c.kind, name_key=c.name_key, email=c.email, phone=c.phone)


@router.get(
    "/duplicates",
    response_model=Page[DuplicatePair],
    summary="Likely duplicates (same email or phone, similar name at the same organisation)",
)
async def list_duplicates(
    session: SessionDep,
    page: PageQuery,
    _: Annotated[Principal, require_roles(Role.SALES_MANAGER, Role.SALES_REP, Role.SERVICE)],
    customer_id: Annotated[uuid.UUID | None, Query(description="Only candidates for this customer")] = None,
) -> Page[DuplicatePair]:
    if customer_id is not None:
        me = await load_customer(session, customer_id)
        others = await candidates_for(session, me)
        items = [
            DuplicatePair(customer_id=me.id, duplicate_id=o.id, customer_name=me.name, duplicate_name=o.name, reasons=r)
            for o in others
            if (r := match_reasons(_candidate(me), _candidate(o)))
        ]
        return Page[DuplicatePair](items=items, next_cursor=None)
    rows, next_cursor = await duplicate_pairs(session, page)
    items = [
        DuplicatePair(
            customer_id=x.id,
            duplicate_id=y.id,
            customer_name=x.name,
            duplicate_name=y.name,
            reasons=match_reasons(_candidate(x), _candidate(y)) or ["similar_record"],
        )
        for x, y in rows
    ]
    return Page[DuplicatePair](items=items, next_cursor=next_cursor)


@router.post(
    "/{customer_id}/merge", response_model=CustomerOut, summary="Merge a duplicate into this customer (customer.merged)"
)
async def merge_customer(
    customer_id: uuid.UUID,
    body: MergeIn,
    request: Request,
    session: SessionDep,
    response: Response,
    settings: SettingsDep,
    principal: Annotated[Principal, require_roles(Role.SALES_MANAGER, Role.SERVICE)],
) -> CustomerOut:
    if body.duplicate_id == customer_id:
        raise Conflict("a customer cannot be merged into itself")
    # Lock in id order so that two crossing merges cannot deadlock.
    first, second = sorted([customer_id, body.duplicate_id])
    locked = {c: await load_customer(session, c, for_update=True) for c in (first, second)}
    survivor, duplicate = locked[customer_id], locked[body.duplicate_id]
    check_if_match(request, survivor.id, survivor.version)
    refuse_if_erased(survivor)
    refuse_if_erased(duplicate)
    await merge(session, settings, survivor, duplicate, principal.subject)
    response.headers["ETag"] = etag_for(survivor.id, survivor.version)
    return CustomerOut.of(survivor)
