"""The reads behind the sales summary (one customer, inside the caller's snapshot).

Open and won are the kinds of the deals' stages in their pipelines (``Deal.stage_kind``); the sums are exact SQL sums of
the minor-unit amounts over every deal the caller may read, not only the ones listed.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from typing import TypeVarTuple

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from tessera_sales.deals.models import Deal, DealLine
from tessera_sales.deals.repository import DealRepository
from tessera_sales.money import from_minor
from tessera_sales.reports.rules import weighted_amount
from tessera_shared.auth import OwnerScope

# The kinds of stage: every pipeline has open stages, one won and one lost stage.
OPEN, WON = "open", "won"

_Columns = TypeVarTuple("_Columns")


@dataclass(frozen=True)
class Totals:
    """Per currency, already rounded to the currency's minor unit."""

    pipeline: dict[str, Decimal]
    weighted: dict[str, Decimal]
    won: dict[str, Decimal]


def _mine(stmt: Select[*_Columns], customer_id: uuid.UUID, owner_id: OwnerScope | None) -> Select[*_Columns]:
    """Limited to the customer, and to ``owner_id``'s deals unless it is None (the caller's scope)."""
    stmt = stmt.where(col(Deal.customer_id) == customer_id)
    return stmt if owner_id is None else stmt.where(owner_id.clause(col(Deal.owner_id)))


async def open_deals(
    session: AsyncSession, customer_id: uuid.UUID, owner_id: OwnerScope | None, limit: int
) -> list[Deal]:
    """The customer's open deals in id order, at most ``limit`` (``owner_id``: the caller's scope)."""
    stmt = _mine(select(Deal), customer_id, owner_id).where(col(Deal.stage_kind) == OPEN)
    return list((await session.execute(stmt.order_by(col(Deal.id)).limit(limit))).scalars())


async def recent_deals(
    session: AsyncSession, customer_id: uuid.UUID, owner_id: OwnerScope | None, limit: int
) -> list[Deal]:
    """The customer's most recently updated deals, any stage."""
    stmt = _mine(select(Deal), customer_id, owner_id)
    stmt = stmt.order_by(col(Deal.updated_at).desc(), col(Deal.id).desc()).limit(limit)
    return list((await session.execute(stmt)).scalars())


async def totals(session: AsyncSession, customer_id: uuid.UUID, owner_id: OwnerScope | None) -> Totals:
    """Pipeline, weighted pipeline and lifetime won over all the customer's deals in scope."""
    stmt = _mine(
        select(
            col(Deal.stage_kind),
            col(Deal.currency),
            func.sum(col(Deal.amount_minor)),
            func.sum(col(Deal.amount_minor) * col(Deal.probability)),
        ),
        customer_id,
        owner_id,
    )
    stmt = stmt.where(col(Deal.stage_kind).in_((OPEN, WON))).group_by(col(Deal.stage_kind), col(Deal.currency))
    pipeline: dict[str, int] = defaultdict(int)
    weighted: dict[str, int] = defaultdict(int)
    won: dict[str, int] = defaultdict(int)
    for kind, currency, amount_minor, weighted_minor_x100 in await session.execute(stmt):
        if kind == OPEN:
            pipeline[currency] += int(amount_minor)
            weighted[currency] += int(weighted_minor_x100)
        else:
            won[currency] += int(amount_minor)
    return Totals(
        pipeline={c: from_minor(v, c) for c, v in pipeline.items()},
        weighted={c: weighted_amount(v, c) for c, v in weighted.items()},
        won={c: from_minor(v, c) for c, v in won.items()},
    )


async def lines_of(session: AsyncSession, deals: list[Deal]) -> dict[uuid.UUID, list[DealLine]]:
    return await DealRepository(session).lines(list({d.id for d in deals}))
