"""Recommendations: the co-occurrence of ``rules.co_occurrence`` computed by SQL over won deals' lines."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import Select, distinct, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from tessera_sales.catalog.models import Product
from tessera_sales.deals.models import Deal, DealLine
from tessera_sales.recommendations import rules


@dataclass(frozen=True)
class CustomerRecommendations:
    bought: list[str]
    ranked: list[rules.Recommendation]
    # Catalog names of the ranked products (a code no longer in the catalog has none).
    names: dict[str, str]


def _won_lines() -> Select[uuid.UUID, str | None]:
    return (
        select(col(Deal.customer_id), col(DealLine.product_code))
        .join(Deal, col(Deal.id) == col(DealLine.deal_id))
        .where(col(Deal.stage) == "won", col(DealLine.product_code).is_not(None))
    )


async def recommend(session: AsyncSession, customer_id: uuid.UUID, limit: int) -> CustomerRecommendations:
    """Products similar customers bought that this one has not, most evidence first."""
    won = _won_lines().subquery()
    own = select(won.c.product_code).where(won.c.customer_id == customer_id).distinct()
    bought = sorted(x for x in (await session.execute(own)).scalars())
    neighbours = select(won.c.customer_id).where(won.c.product_code.in_(own), won.c.customer_id != customer_id)
    stmt = (
        select(won.c.product_code, func.count(distinct(won.c.customer_id)))
        .where(won.c.customer_id.in_(neighbours), won.c.product_code.not_in(own))
        .group_by(won.c.product_code)
    )
    evidence = {code: int(n) for code, n in await session.execute(stmt)}
    ranked = rules.rank(evidence, limit)
    names = dict(
        (
            await session.execute(
                select(col(Product.code), col(Product.name)).where(
                    col(Product.code).in_([r.product_code for r in ranked])
                )
            )
        ).all()
    )
    return CustomerRecommendations(bought=bought, ranked=ranked, names=names)
