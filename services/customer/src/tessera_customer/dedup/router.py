"""Duplicate candidates with their reasons, and merging one into the other."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict
from sqlalchemy import ColumnElement, Select, and_, literal, or_, select, union
from sqlalchemy.orm import aliased
from sqlmodel import col

from tessera_customer.common import SettingsDep, load_customer, refuse_if_erased
from tessera_customer.customers.models import Customer
from tessera_customer.customers.schemas import CustomerOut
from tessera_customer.dedup.rules import Candidate, match_reasons, organisation_domain
from tessera_customer.dedup.service import merge
from tessera_shared.auth import Principal, Role, require_roles
from tessera_shared.deps import SessionDep
from tessera_shared.http.errors import Problem
from tessera_shared.http.etag import check_if_match, etag_for
from tessera_shared.http.pagination import Page, PageQuery, decode_cursor, encode_cursor

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


def _live(c: type[Customer]) -> ColumnElement[bool]:
    return and_(col(c.merged_into_id).is_(None), col(c.erased_at).is_(None))


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
    a, b = aliased(Customer), aliased(Customer)
    if customer_id is not None:
        me = await load_customer(session, customer_id)
        domain = organisation_domain(me.email)
        keys: list[ColumnElement[bool]] = [col(b.email) == me.email] if me.email else []
        keys += [col(b.phone) == me.phone] if me.phone else []
        keys += [col(b.name_key) == me.name_key] if me.name_key else []
        keys += [col(b.email).endswith("@" + domain, autoescape=True)] if domain else []
        if not keys:
            return Page[DuplicatePair](items=[], next_cursor=None)
        candidates = select(b).where(col(b.id) != me.id, _live(b), or_(*keys)).order_by(col(b.id)).limit(200)
        others = (await session.scalars(candidates)).all()
        items = [
            DuplicatePair(customer_id=me.id, duplicate_id=o.id, customer_name=me.name, duplicate_name=o.name, reasons=r)
            for o in others
            if (r := match_reasons(_candidate(me), _candidate(o)))
        ]
        return Page[DuplicatePair](items=items, next_cursor=None)
    after = decode_cursor(page.cursor, (col(Customer.id), col(Customer.id))) if page.cursor else None
    a_id, b_id = col(a.id), col(b.id)

    def pairs_on(same: ColumnElement[bool]) -> Select[uuid.UUID, uuid.UUID]:
        stmt: Select[uuid.UUID, uuid.UUID] = (
            select(a_id.label("first_id"), b_id.label("second_id"))
            .join(b, and_(a_id < b_id, same))
            .where(_live(a), _live(b))
        )
        if after is not None:
            first, second = (literal(v, Customer.__table__.c.id.type) for v in after)
            stmt = stmt.where(or_(a_id > first, and_(a_id == first, b_id > second)))
        return stmt

    # One equality join per key (each can use its index or a hash join), not one join on an OR.
    pairs = union(
        pairs_on(col(a.email) == col(b.email)),
        pairs_on(col(a.phone) == col(b.phone)),
        pairs_on(and_(col(a.name_key) == col(b.name_key), col(a.name_key) != "")),
    ).subquery()
    x, y = aliased(Customer), aliased(Customer)
    stmt = (
        select(x, y)
        .join(pairs, col(x.id) == pairs.c.first_id)
        .join(y, col(y.id) == pairs.c.second_id)
        .order_by(pairs.c.first_id, pairs.c.second_id)
        .limit(page.limit + 1)
    )
    rows = (await session.execute(stmt)).all()
    next_cursor = None
    if len(rows) > page.limit:
        rows = rows[: page.limit]
        next_cursor = encode_cursor([rows[-1][0].id, rows[-1][1].id])
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
        raise Problem(409, "a customer cannot be merged into itself", slug="conflict")
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
