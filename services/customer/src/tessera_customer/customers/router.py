from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from tessera_customer.api import EDITORS, READERS, WRITERS
from tessera_customer.custom_fields import CUSTOM_ATTRIBUTES, CUSTOM_FIELDS
from tessera_customer.customers.answer import customers_page_answer
from tessera_customer.customers.filters import CustomerFilter
from tessera_customer.customers.read import customer_response
from tessera_customer.customers.repository import list_rows, live_customer_row, load_customer, page_values
from tessera_customer.customers.schemas import CustomerCreate, CustomerOut, CustomerPatch
from tessera_customer.customers.service import create_customer, ensure_may_change, refuse_if_erased, update_customer
from tessera_shared.auth import Principal, require_roles
from tessera_shared.deps import SessionDep
from tessera_shared.errors import NotFound
from tessera_shared.http.etag import check_if_match, etag_for
from tessera_shared.http.idempotency import IdempotencyDep
from tessera_shared.http.pagination import Page, PageQuery
from tessera_shared.http.query import accepts_query_prefix

router = APIRouter(prefix="/v1/customers", tags=["customers"])


@router.post("", name="create_customer", status_code=201, response_model=CustomerOut, summary="Create a customer")
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
    headers = {"Location": f"/v1/customers/{customer.id}", "ETag": etag_for(customer.id, customer.version)}
    if "custom_attributes" in body.model_fields_set:
        headers.update(CUSTOM_ATTRIBUTES.headers())
    return await idem.respond(201, out, headers=headers)


@router.get(
    "",
    response_model=Page[CustomerOut],
    summary="List customers (cursor pagination, filters); ?custom_fields.<key>[op]=value filters on a custom field",
)
@accepts_query_prefix("custom_fields.")
async def list_customers(
    request: Request,
    session: SessionDep,
    page: PageQuery,
    _: Annotated[Principal, require_roles(*READERS)],
    filters: Annotated[CustomerFilter, Query()],
) -> Response:
    where = await CUSTOM_FIELDS.list_filters(session, "customer", request.query_params.multi_items())
    rows, next_cursor = await list_rows(session, page, filters, where)
    # Written from the rows (customers/answer.py): the bytes Page[CustomerOut] gave, which documents it.
    return Response(customers_page_answer(page_values(rows), next_cursor), media_type="application/json")


@router.get("/{customer_id}", response_model=CustomerOut, summary="Get one customer")
async def get_customer(
    request: Request,
    customer_id: uuid.UUID,
    session: SessionDep,
    principal: Annotated[Principal, require_roles(*READERS)],
) -> Response:
    # A plain GET of a live customer is answered before the router (customers/read.py, FAST_GET)
    # with the same bytes; this is the reference, and answers ?fields=, problems and the rest.
    row = await live_customer_row(session, customer_id)
    if row is None:
        await load_customer(session, customer_id)  # NotFound, or CustomerMerged naming the survivor
        raise NotFound("customer", customer_id)  # created between the two reads: as a moment earlier
    # Written here (customers/answer.py), the response model only documents it.
    return customer_response(request, row, principal)


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
    if "custom_attributes" in body.model_fields_set:
        response.headers.update(CUSTOM_ATTRIBUTES.headers())
    response.headers["ETag"] = etag_for(customer.id, customer.version)
    return CustomerOut.of(customer)
