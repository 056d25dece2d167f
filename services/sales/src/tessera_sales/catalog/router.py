from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Request, Response

from tessera_sales.catalog import service
from tessera_sales.catalog.schemas import ProductCreate, ProductOut, ProductPatch
from tessera_shared.auth import Principal, Role, require_roles
from tessera_shared.deps import SessionDep
from tessera_shared.http.etag import check_if_match, etag_for
from tessera_shared.http.idempotency import IdempotencyDep
from tessera_shared.http.pagination import Page, PageQuery

router = APIRouter(prefix="/v1/products", tags=["products"])

READERS = (Role.SALES_MANAGER, Role.SALES_REP, Role.FINANCE_MANAGER, Role.BILLING_CLERK, Role.SERVICE)


@router.post("", status_code=201, response_model=ProductOut, summary="Add a product to the catalog")
async def create_product(
    body: ProductCreate,
    session: SessionDep,
    idem: IdempotencyDep,
    _: Annotated[Principal, require_roles(Role.SALES_MANAGER)],
) -> Response:
    if (replayed := await idem.begin(body)) is not None:
        return replayed
    product = await service.create_product(session, body)
    return await idem.respond(
        201,
        ProductOut.model_validate(product),
        headers={"Location": f"/v1/products/{product.id}", "ETag": etag_for(product.id, product.version)},
    )


@router.get("", response_model=Page[ProductOut], summary="List the catalog")
async def list_products(
    session: SessionDep,
    page: PageQuery,
    _: Annotated[Principal, require_roles(*READERS)],
    active: bool | None = None,
) -> Page[ProductOut]:
    rows, cursor = await service.list_products(session, page, active=active)
    return Page[ProductOut](items=[ProductOut.model_validate(p) for p in rows], next_cursor=cursor)


@router.get("/{product_id}", response_model=ProductOut, summary="Get one product")
async def get_product(
    product_id: uuid.UUID,
    session: SessionDep,
    response: Response,
    _: Annotated[Principal, require_roles(*READERS)],
) -> ProductOut:
    product = await service.get_product(session, product_id)
    response.headers["ETag"] = etag_for(product.id, product.version)
    return ProductOut.model_validate(product)


@router.patch("/{product_id}", response_model=ProductOut, summary="Change name, price or availability")
async def patch_product(
    product_id: uuid.UUID,
    body: ProductPatch,
    request: Request,
    session: SessionDep,
    response: Response,
    _: Annotated[Principal, require_roles(Role.SALES_MANAGER)],
) -> ProductOut:
    product = await service.get_product(session, product_id)
    check_if_match(request, product.id, product.version)
    await service.update_product(session, product, body)
    response.headers["ETag"] = etag_for(product.id, product.version)
    return ProductOut.model_validate(product)
