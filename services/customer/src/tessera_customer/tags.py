"""POST /v1/customers/tags: tags added to and removed from many customers at once (tessera_shared.tags,
the same request and answer as deals', leads' and tickets').

Each customer changes through the PATCH's use case (customer.updated naming ``tags``, a timeline
line) under its rules: only the owner, a manager or an admin (403 for the others), not an erased
customer (409), not a merged one (its survivor named).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Annotated

from fastapi import APIRouter, Response

from tessera_customer.api import EDITORS
from tessera_customer.customers.models import Customer
from tessera_customer.customers.repository import CustomerMerged
from tessera_customer.customers.schemas import CustomerPatch
from tessera_customer.customers.service import ensure_may_change, refuse_if_erased, update_customer
from tessera_shared.auth import Principal, require_roles
from tessera_shared.deps import SessionDep
from tessera_shared.http.batch import BatchUpsertResult
from tessera_shared.http.idempotency import IdempotencyDep
from tessera_shared.tags import BULK_RESPONSES, BulkTags, bulk_description, bulk_tag, locked_by_id

router = APIRouter(prefix="/v1/customers", tags=["customers"])


@router.post(
    "/tags",
    response_model=BatchUpsertResult,
    responses=BULK_RESPONSES,
    summary="Add and remove tags on up to 1,000 customers",
    description=bulk_description("customers"),
)
async def tag_customers(
    body: BulkTags,
    session: SessionDep,
    idem: IdempotencyDep,
    principal: Annotated[Principal, require_roles(*EDITORS)],
) -> Response:
    if (replayed := await idem.begin(body)) is not None:
        return replayed

    async def load(ids: list[uuid.UUID]) -> Mapping[uuid.UUID, Customer]:
        return await locked_by_id(session, Customer, ids)

    async def change(customer: Customer, tags: list[str]) -> None:
        # Every rule before anything is written (as the batch upsert's update).
        if customer.merged_into_id is not None:
            raise CustomerMerged(customer.id, customer.merged_into_id)
        ensure_may_change(principal, customer)
        refuse_if_erased(customer)
        await update_customer(session, customer, CustomerPatch(tags=tags), principal)

    status, result = await bulk_tag(body, "customer", load, change)
    return await idem.respond(status, result)
