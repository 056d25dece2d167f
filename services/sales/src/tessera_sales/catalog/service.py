"""Catalog use cases: products read, added and changed (flush only; the caller commits)."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from tessera_sales.catalog.models import Product
from tessera_sales.catalog.schemas import ProductCreate, ProductPatch
from tessera_shared.db import utcnow
from tessera_shared.errors import Conflict, InvalidInput, NotFound
from tessera_shared.http.pagination import PageParams, paginate


async def get_product(session: AsyncSession, product_id: uuid.UUID) -> Product:
    product = await session.get(Product, product_id)
    if product is None:
        raise NotFound("product", product_id)
    return product


async def list_products(
    session: AsyncSession, page: PageParams, *, active: bool | None
) -> tuple[list[Product], str | None]:
    stmt = select(Product)
    if active is not None:
        stmt = stmt.where(col(Product.active) == active)
    return await paginate(session, stmt, page, (col(Product.id),))


async def create_product(session: AsyncSession, data: ProductCreate) -> Product:
    """A new product; 409 when its code is taken."""
    if await session.scalar(select(col(Product.id)).where(col(Product.code) == data.code)) is not None:
        raise Conflict(f"a product with code {data.code!r} exists", kind="duplicate-product-code")
    product = Product(code=data.code, name=data.name, currency=data.currency, unit_price=data.unit_price)
    session.add(product)
    await session.flush()
    return product


async def update_product(session: AsyncSession, product: Product, patch: ProductPatch) -> None:
    """Apply the fields given (none may be null) and bump the version."""
    for field in patch.model_fields_set:
        if getattr(patch, field) is None:
            raise InvalidInput(field, "may not be null")
        setattr(product, field, getattr(patch, field))
    product.version += 1
    product.updated_at = utcnow()
    await session.flush()
