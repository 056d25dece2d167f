from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel

from tessera_sales.recommendations import service
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


@router.get("", response_model=Recommendations, summary="Products similar customers bought that this one has not")
async def list_recommendations(
    session: SessionDep,
    _: Annotated[Principal, require_roles(Role.SALES_MANAGER, Role.SALES_REP)],
    customer_id: uuid.UUID,
    limit: Annotated[int, Query(ge=1, le=50)] = 10,
) -> Recommendations:
    found = await service.recommend(session, customer_id, limit)
    return Recommendations(
        customer_id=customer_id,
        bought=found.bought,
        items=[
            RecommendationOut(product_code=r.product_code, name=found.names.get(r.product_code), evidence=r.evidence)
            for r in found.ranked
        ],
    )
