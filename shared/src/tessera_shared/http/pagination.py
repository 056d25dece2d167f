"""Keyset (cursor) pagination: the cost of a page does not grow with its depth."""

from __future__ import annotations

import base64
import uuid
from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar

import orjson
from fastapi import Depends, Query
from pydantic import BaseModel
from sqlalchemy import Select, literal, tuple_
from sqlalchemy.orm import InstrumentedAttribute

from tessera_shared.http.errors import Problem

T = TypeVar("T")
MAX_LIMIT = 200


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = None


class PageParams(BaseModel):
    limit: int
    cursor: str | None


def page_params(
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Page size (max 200)")] = 50,
    cursor: Annotated[str | None, Query(max_length=512, description="Opaque cursor from `next_cursor`")] = None,
) -> PageParams:
    return PageParams(limit=limit, cursor=cursor)


PageQuery = Annotated[PageParams, Depends(page_params)]


def _encode_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return {"t": value.isoformat()}
    if isinstance(value, uuid.UUID):
        return {"u": str(value)}
    return value


def _decode_value(value: Any) -> Any:
    if isinstance(value, dict):
        if "t" in value:
            return datetime.fromisoformat(value["t"])
        if "u" in value:
            return uuid.UUID(value["u"])
    return value


def encode_cursor(values: list[Any]) -> str:
    raw = orjson.dumps([_encode_value(v) for v in values])
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode_cursor(cursor: str, size: int) -> list[Any]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = [_decode_value(v) for v in orjson.loads(raw)]
        if not isinstance(values, list) or len(values) != size:
            raise ValueError
        return values
    except Exception:
        raise Problem(422, "cursor is not one this API issued", slug="validation-error",
                      errors=[{"field": "cursor", "location": "query", "message": "invalid cursor"}]) from None


async def paginate(
    session: Any,
    stmt: Select[Any],
    params: PageParams,
    order: tuple[InstrumentedAttribute[Any], ...],
) -> tuple[list[Any], str | None]:
    """Run ``stmt`` ordered by ``order`` (ascending, unique together) from the cursor on."""
    if params.cursor:
        values = decode_cursor(params.cursor, len(order))
        bounds = [literal(v, type_=col.type) for v, col in zip(values, order, strict=True)]
        stmt = stmt.where(tuple_(*order) > tuple_(*bounds))
    rows = list((await session.execute(stmt.order_by(*order).limit(params.limit + 1))).scalars())
    next_cursor = None
    if len(rows) > params.limit:
        rows = rows[: params.limit]
        last = rows[-1]
        next_cursor = encode_cursor([getattr(last, col.key) for col in order])
    return rows, next_cursor
