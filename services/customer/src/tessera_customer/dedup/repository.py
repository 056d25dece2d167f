"""Finding duplicate candidates: per customer, and every pair in keyset pages."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import ColumnElement, Select, and_, literal, or_, select, union
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlmodel import col

from tessera_customer.customers.models import Customer
from tessera_customer.dedup.rules import organisation_domain
from tessera_shared.http.pagination import PageParams, decode_cursor, encode_cursor


def _live(c: type[Customer]) -> ColumnElement[bool]:
    return and_(col(c.merged_into_id).is_(None), col(c.erased_at).is_(None))


async def candidates_for(session: AsyncSession, me: Customer) -> Sequence[Customer]:
    """Live customers sharing a key with ``me`` (at most 200, by id); none when ``me`` has no key."""
    b = aliased(Customer)
    domain = organisation_domain(me.email)
    keys: list[ColumnElement[bool]] = [col(b.email) == me.email] if me.email else []
    keys += [col(b.phone) == me.phone] if me.phone else []
    keys += [col(b.name_key) == me.name_key] if me.name_key else []
    keys += [col(b.email).endswith("@" + domain, autoescape=True)] if domain else []
    if not keys:
        return []
    candidates = select(b).where(col(b.id) != me.id, _live(b), or_(*keys)).order_by(col(b.id)).limit(200)
    return (await session.scalars(candidates)).all()


async def duplicate_pairs(
    session: AsyncSession, page: PageParams
) -> tuple[list[tuple[Customer, Customer]], str | None]:
    """One page of (first, second) live customers sharing email, phone or name key, in id order."""
    a, b = aliased(Customer), aliased(Customer)
    after = decode_cursor(page.cursor, (col(Customer.id), col(Customer.id)), page.scope) if page.cursor else None
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
    rows = [(first, second) for first, second in (await session.execute(stmt)).all()]
    next_cursor = None
    if len(rows) > page.limit:
        rows = rows[: page.limit]
        next_cursor = encode_cursor([rows[-1][0].id, rows[-1][1].id], page.scope)
    return rows, next_cursor
