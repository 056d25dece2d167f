"""Keyset (cursor) pagination: the cost of a page does not grow with its depth."""

from __future__ import annotations

import base64
import uuid
from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar

import orjson
from fastapi import Depends, Query
from pydantic import BaseModel
from sqlalchemy import Select, and_, literal, or_
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


def _cursor_value(value: Any) -> Any:
    # Decimals and other exact values travel as their text; the column's type reads them back.
    return value if value is None or isinstance(value, (datetime, uuid.UUID, int, str)) else str(value)


async def paginate(
    session: Any,
    stmt: Select[Any],
    params: PageParams,
    order: tuple[InstrumentedAttribute[Any], ...],
    *,
    descending: bool = False,
) -> tuple[list[Any], str | None]:
    """Run ``stmt`` ordered by ``order`` (unique together) from the cursor on, ascending or
    descending (newest or largest first)."""
    if params.cursor:
        values = decode_cursor(params.cursor, len(order))
        bounds = [literal(v, type_=col.type) for v, col in zip(values, order, strict=True)]
        # (a, b) > (x, y) spelled out as a OR (a = x AND b > y): portable, and index-friendly.
        clauses = []
        for i, col in enumerate(order):
            equal = [order[j] == bounds[j] for j in range(i)]
            clauses.append(and_(*equal, col < bounds[i] if descending else col > bounds[i]))
        # The redundant bound on the leading column lets the planner use an index range scan.
        lead = order[0] <= bounds[0] if descending else order[0] >= bounds[0]
        stmt = stmt.where(lead, or_(*clauses))
    ordering = [c.desc() for c in order] if descending else list(order)
    rows = list((await session.execute(stmt.order_by(*ordering).limit(params.limit + 1))).scalars())
    next_cursor = None
    if len(rows) > params.limit:
        rows = rows[: params.limit]
        last = rows[-1]
        next_cursor = encode_cursor([_cursor_value(getattr(last, col.key)) for col in order])
    return rows, next_cursor
