from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request, Response

from tessera_customer.common import audit_read, load_customer, refuse_if_erased
from tessera_customer.customers.repository import CustomerFilter, CustomerRepository
from tessera_customer.customers.schemas import CustomerCreate, CustomerOut, CustomerPatch
from tessera_customer.customers.service import create_customer, ensure_may_change, update_customer
from tessera_shared.auth import Principal, Role, require_roles
from tessera_shared.deps import SessionDep
from tessera_shared.http.etag import check_if_match, etag_for
from tessera_shared.http.idempotency import IdempotencyDep
from tessera_shared.http.pagination import Page, PageQuery

router = APIRouter(prefix="/v1/customers", tags=["customers"])

WRITERS = (Role.SALES_MANAGER, Role.SALES_REP, Role.SUPPORT_AGENT, Role.SERVICE)
READERS = (*WRITERS, Role.BILLING_CLERK, Role.FINANCE_MANAGER)
EDITORS = (Role.SALES_MANAGER, Role.SALES_REP, Role.SERVICE)

Status = Literal["non_customer", "prospect", "first_time", "repeat", "loyal", "churned"]
Text = Annotated[str | None, Query(max_length=100)]


def customer_filter(
    status: Status | None = None,
    tier: Literal["key", "ordinary", "small"] | None = None,
    owner_id: Annotated[str | None, Query(max_length=200)] = None,
    unowned: bool | None = None,
    tag: Annotated[str | None, Query(max_length=50)] = None,
    relation: Literal["consumer", "intermediary", "internal", "public"] | None = None,
    relationship_type: Literal["transactional", "preferred_supplier", "partner", "strategic_alliance"] | None = None,
    kind: Literal["person", "organization"] | None = None,
    email: Annotated[str | None, Query(max_length=320)] = None,
    q: Annotated[str | None, Query(min_length=1, max_length=200, description="Prefix of name, email or phone")] = None,
    country: Annotated[str | None, Query(pattern=r"^[A-Z]{2}$")] = None,
    region: Text = None,
    city: Text = None,
    gender: Text = None,
    age_band: Text = None,
    occupation: Text = None,
    rfm_segment: Text = None,
    frequency_class: Literal["heavy", "medium", "light"] | None = None,
    lifecycle_stage: Literal["exploration", "formation", "stability", "decline"] | None = None,
    min_churn_risk: Annotated[int | None, Query(ge=0, le=100)] = None,
) -> CustomerFilter:
    return CustomerFilter(**{k: v for k, v in locals().items()})


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
    out = CustomerOut.of(customer)
    return await idem.respond(
        201, out, headers={"Location": f"/v1/customers/{customer.id}", "ETag": etag_for(customer.id, customer.version)}
    )


@router.get("", response_model=Page[CustomerOut], summary="List customers (cursor pagination, filters)")
async def list_customers(
    session: SessionDep,
    page: PageQuery,
    _: Annotated[Principal, require_roles(*READERS)],
    filters: Annotated[CustomerFilter, Depends(customer_filter)],
) -> Page[CustomerOut]:
    rows, next_cursor = await CustomerRepository(session).list(page, filters)
    return Page[CustomerOut](items=[CustomerOut.of(r) for r in rows], next_cursor=next_cursor)


@router.get("/{customer_id}", response_model=CustomerOut, summary="Get one customer")
async def get_customer(
    customer_id: uuid.UUID,
    session: SessionDep,
    response: Response,
    principal: Annotated[Principal, require_roles(*READERS)],
) -> CustomerOut:
    customer = await load_customer(session, customer_id)
    audit_read(session, customer.id, principal, "read")
    response.headers["ETag"] = etag_for(customer.id, customer.version)
    return CustomerOut.of(customer)


@router.patch("/{customer_id}", response_model=CustomerOut, summary="Change a customer (If-Match honoured)")
async def patch_customer(
    customer_id: uuid.UUID,
    body: CustomerPatch,
    request: Request,
    session: SessionDep,
    response: Response,
    principal: Annotated[Principal, require_roles(*EDITORS)],
) -> CustomerOut:
    customer = await load_customer(session, customer_id, for_update=True)
    ensure_may_change(principal, customer)
    check_if_match(request, customer.id, customer.version)
    refuse_if_erased(customer)
    customer = await update_customer(session, customer, body, principal)
    response.headers["ETag"] = etag_for(customer.id, customer.version)
    return CustomerOut.of(customer)
