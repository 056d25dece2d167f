from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Request, Response
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from tessera_sales.catalog.models import Product
from tessera_sales.catalog.schemas import ProductCreate, ProductOut, ProductPatch
from tessera_sales.schemas_common import field_problem
from tessera_shared.auth import Principal, Role, require_roles
from tessera_shared.db import utcnow
from tessera_shared.deps import SessionDep
from tessera_shared.http.errors import Problem
from tessera_shared.http.etag import check_if_match, etag_for
from tessera_shared.http.idempotency import IdempotencyDep
from tessera_shared.http.pagination import Page, PageQuery, paginate

router = APIRouter(prefix="/v1/products", tags=["products"])

READERS = (Role.SALES_MANAGER, Role.SALES_REP, Role.FINANCE_MANAGER, Role.BILLING_CLERK, Role.SERVICE)


async def _get(session: AsyncSession, product_id: uuid.UUID) -> Product:
    product = await session.get(Product, product_id)
    if product is None:
        raise Problem(404, f"product {product_id} not found")
    return product


@router.post("", status_code=201, response_model=ProductOut, summary="Add a product to the catalog")
async def create_product(
    body: ProductCreate,
    session: SessionDep,
    idem: IdempotencyDep,
    _: Annotated[Principal, require_roles(Role.SALES_MANAGER)],
) -> Response:
    if (replayed := await idem.begin(body)) is not None:
        return replayed
    if await session.scalar(select(col(Product.id)).where(col(Product.code) == body.code)) is not None:
        raise Problem(409, f"a product with code {body.code!r} exists", slug="duplicate-product-code")
    product = Product(code=body.code, name=body.name, currency=body.currency, unit_price=body.unit_price)
    session.add(product)
    await session.flush()
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
    stmt = select(Product)
    if active is not None:
        stmt = stmt.where(col(Product.active) == active)
    rows, cursor = await paginate(session, stmt, page, (col(Product.id),))
    return Page[ProductOut](items=[ProductOut.model_validate(p) for p in rows], next_cursor=cursor)


@router.get("/{product_id}", response_model=ProductOut, summary="Get one product")
async def get_product(
    product_id: uuid.UUID,
    session: SessionDep,
    response: Response,
    _: Annotated[Principal, require_roles(*READERS)],
) -> ProductOut:
    product = await _get(session, product_id)
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
    product = await _get(session, product_id)
    check_if_match(request, product.id, product.version)
    for field in body.model_fields_set:
        if getattr(body, field) is None:
            raise field_problem(field, "may not be null")
        setattr(product, field, getattr(body, field))
    product.version += 1
    product.updated_at = utcnow()
    await session.flush()
    response.headers["ETag"] = etag_for(product.id, product.version)
    return ProductOut.model_validate(product)
