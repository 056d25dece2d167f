from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel
from sqlalchemy import Select, distinct, func, select
from sqlmodel import col

from tessera_sales.catalog.models import Product
from tessera_sales.deals.models import Deal, DealLine
from tessera_sales.recommendations import rules
from tessera_shared.auth import Principal, Role, require_roles
from tessera_shared.deps import SessionDep

# /v1/customers/{id}/... belongs to the customer service, so recommendations live under their own root.
router = APIRouter(prefix="/v1/recommendations", tags=["recommendations"])


class RecommendationOut(BaseModel):
    product_code: str
    name: str | None
    evidence: int


class Recommendations(BaseModel):
    customer_id: uuid.UUID
    bought: list[str]
    items: list[RecommendationOut]


def _won_lines() -> Select[uuid.UUID, str | None]:
    return (
        select(col(Deal.customer_id), col(DealLine.product_code))
        .join(Deal, col(Deal.id) == col(DealLine.deal_id))
        .where(col(Deal.stage) == "won", col(DealLine.product_code).is_not(None))
    )


@router.get("", response_model=Recommendations, summary="Products similar customers bought that this one has not")
async def list_recommendations(
    session: SessionDep,
    _: Annotated[Principal, require_roles(Role.SALES_MANAGER, Role.SALES_REP)],
    customer_id: uuid.UUID,
    limit: Annotated[int, Query(ge=1, le=50)] = 10,
) -> Recommendations:
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
    return Recommendations(
        customer_id=customer_id,
        bought=bought,
        items=[
            RecommendationOut(product_code=r.product_code, name=names.get(r.product_code), evidence=r.evidence)
            for r in ranked
        ],
    )
