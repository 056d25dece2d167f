from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response

from tessera_customer.customers.repository import CustomerRepository
from tessera_customer.customers.schemas import CustomerCreate, CustomerOut
from tessera_customer.customers.service import create_customer
from tessera_shared.auth import Principal, Role, require_roles
from tessera_shared.deps import SessionDep
from tessera_shared.http.errors import Problem
from tessera_shared.http.etag import etag_for
from tessera_shared.http.idempotency import IdempotencyDep
from tessera_shared.http.pagination import Page, PageQuery

router = APIRouter(prefix="/v1/customers", tags=["customers"])

WRITERS = (Role.SALES_MANAGER, Role.SALES_REP, Role.SUPPORT_AGENT, Role.SERVICE)
READERS = (*WRITERS, Role.BILLING_CLERK, Role.FINANCE_MANAGER)


@router.post("", status_code=201, response_model=CustomerOut, summary="Create a customer")
async def create(
    body: CustomerCreate,
    session: SessionDep,
    idem: IdempotencyDep,
    principal: Annotated[Principal, require_roles(*WRITERS)],
) -> Response:
    if (replayed := await idem.begin(body)) is not None:
        return replayed
    customer = await create_customer(session, body, principal)
    out = CustomerOut.model_validate(customer)
    return await idem.respond(
        201, out, headers={"Location": f"/v1/customers/{customer.id}", "ETag": etag_for(customer.id, customer.version)}
    )


@router.get("", response_model=Page[CustomerOut], summary="List customers (cursor pagination)")
async def list_customers(
    session: SessionDep,
    page: PageQuery,
    _: Annotated[Principal, require_roles(*READERS)],
    status: Annotated[str | None, Query(max_length=20)] = None,
    owner_id: Annotated[str | None, Query(max_length=200)] = None,
    email: Annotated[str | None, Query(max_length=320)] = None,
) -> Page[CustomerOut]:
    rows, next_cursor = await CustomerRepository(session).list(
        page, status=status, owner_id=owner_id, email=email.strip().lower() if email else None
    )
    return Page[CustomerOut](items=[CustomerOut.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.get("/{customer_id}", response_model=CustomerOut, summary="Get one customer")
async def get_customer(
    customer_id: uuid.UUID,
    session: SessionDep,
    response: Response,
    _: Annotated[Principal, require_roles(*READERS)],
) -> CustomerOut:
    customer = await CustomerRepository(session).get(customer_id)
    if customer is None:
        raise Problem(404, f"customer {customer_id} not found")
    response.headers["ETag"] = etag_for(customer.id, customer.version)
    return CustomerOut.model_validate(customer)
