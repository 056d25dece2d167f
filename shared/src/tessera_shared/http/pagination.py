"""Keyset (cursor) pagination: the cost of a page does not grow with its depth."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import uuid
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any, Generic, TypeVar, cast

import orjson
from fastapi import Depends, Query, Request
from pydantic import BaseModel
from sqlalchemy import Select, and_, literal, or_
from sqlalchemy.orm import Mapped, QueryableAttribute
from sqlalchemy.types import TypeDecorator

from tessera_shared.db.types import is_bigint
from tessera_shared.errors import InvalidInput

T = TypeVar("T")
MAX_LIMIT = 200


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = None


class PageParams(BaseModel):
    limit: int
    cursor: str | None
    # What the page's cursors are bound to (encode_cursor): the list and its filters.
    scope: bytes = b""


# Query parameters that do not choose which records a list pages through: the page's own, and
# those that shape each item (a client may change them between pages).
PAGE_ONLY_PARAMETERS = frozenset({"cursor", "limit", "fields", "expand"})


def cursor_scope(what: str, filters: object) -> bytes:
    """The scope of cursors that page through ``what`` (a list's path, a search's resource) as
    chosen by ``filters`` (JSON; objects compared whatever their keys' order)."""
    return hashlib.sha256(what.encode() + orjson.dumps(filters, option=orjson.OPT_SORT_KEYS)).digest()


def list_scope(path: str, query: Iterable[tuple[str, str]]) -> bytes:
    """A list's cursor scope: its path and its filters (every query parameter but
    ``PAGE_ONLY_PARAMETERS``). A cursor brought to another list or other filters would start
    there at a position that list never reached: it is a 422 naming ``cursor`` instead."""
    return cursor_scope(path, sorted((k, v) for k, v in query if k not in PAGE_ONLY_PARAMETERS))


def page_params(
    request: Request,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Page size (max 200)")] = 50,
    cursor: Annotated[
        str | None, Query(max_length=512, description="Opaque cursor from `next_cursor`, with the same filters")
    ] = None,
) -> PageParams:
    scope = list_scope(request.url.path, request.query_params.multi_items())
    return PageParams(limit=limit, cursor=cursor, scope=scope)


PageQuery = Annotated[PageParams, Depends(page_params)]


# Cursors are signed: HMAC-SHA256 (first 12 bytes) of the JSON payload, with a key derived from
# a secret every replica shares (build_app configures it from JWT_SIGNING_KEY). Until configured,
# a random key: cursors then live as long as the process.
_CURSOR_CONTEXT = b"tessera-cursor-v1"
_SIGNATURE_BYTES = 12
_cursor_key = secrets.token_bytes(32)


def configure_cursor_key(secret: str | bytes) -> None:
    """Sign and verify cursors with a key derived from ``secret`` (shared by every replica)."""
    global _cursor_key
    raw = secret.encode() if isinstance(secret, str) else secret
    _cursor_key = hmac.new(raw, _CURSOR_CONTEXT, hashlib.sha256).digest()


def _signature(payload: bytes, scope: bytes = b"") -> bytes:
    """``scope`` binds a cursor to what it pages through (``cursor_scope``; empty: unbound)."""
    return hmac.new(_cursor_key, scope + payload, hashlib.sha256).digest()[:_SIGNATURE_BYTES]


def _encode_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return {"t": value.isoformat()}
    if isinstance(value, uuid.UUID):
        return {"u": str(value)}
    return value


def _decode_value(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {"t"} and isinstance(value["t"], str):
            return datetime.fromisoformat(value["t"])
        if set(value) == {"u"} and isinstance(value["u"], str):
            return uuid.UUID(value["u"])
        raise ValueError("unknown tagged value")
    if value is not None and not isinstance(value, (str, int)):  # floats, lists: never issued
        raise ValueError("unexpected value")
    return value


def _python_type(kind: Any) -> Any:
    """A Python type, or the Python type of a column's (or column expression's) SQL type."""
    if isinstance(kind, type):
        return kind
    sql_type = getattr(kind, "type", None)
    if isinstance(sql_type, TypeDecorator):  # UTCDateTime, Money: what they store is their impl's
        sql_type = sql_type.impl_instance
    try:
        found = sql_type.python_type  # type: ignore[union-attr]
    except (AttributeError, NotImplementedError):
        return None
    return None if found is object else found


def _typed(value: Any, kind: Any) -> Any:
    """``value`` as the order column ``kind`` binds it, or ValueError: a cursor whose values a column
    cannot take would otherwise reach the database and fail there (a 500)."""
    if value is None:
        return None
    expected = _python_type(kind)
    if expected is None:
        return value
    if expected is bool:
        if isinstance(value, bool):
            return value
    elif expected is int:
        if is_bigint(value):
            return value
    elif expected is Decimal:
        if isinstance(value, (str, int)) and not isinstance(value, bool):
            number = Decimal(str(value))  # decimal.InvalidOperation is an ArithmeticError
            if number.is_finite() and abs(number.adjusted()) < 100:
                return number
    elif expected is uuid.UUID:
        if isinstance(value, uuid.UUID):
            return value
        if isinstance(value, str):
            return uuid.UUID(value)
    elif expected is datetime:
        if isinstance(value, datetime) and value.tzinfo is not None:
            return value.astimezone(UTC)  # OverflowError near year 1 or 9999
    elif expected is str:
        if isinstance(value, str) and "\x00" not in value:
            return value
    elif isinstance(value, expected):
        return value
    raise ValueError(f"cursor value does not fit {expected}")


def encode_cursor(values: list[Any], scope: bytes = b"") -> str:
    raw = orjson.dumps([_encode_value(v) for v in values])
    return base64.urlsafe_b64encode(_signature(raw, scope) + raw).rstrip(b"=").decode()


def decode_cursor(cursor: str, kinds: int | Sequence[Any], scope: bytes = b"") -> list[Any]:
    """The values of a cursor this API issued, with the same ``scope``, or a 422 naming ``cursor``.

    ``kinds`` is the number of values or, better, the order columns (or Python types) they are
    bound to: each value is then checked and converted to what its column takes."""
    try:
        if not cursor.isascii():
            raise ValueError("not ASCII")
        blob = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        signature, raw = blob[:_SIGNATURE_BYTES], blob[_SIGNATURE_BYTES:]
        if not hmac.compare_digest(signature, _signature(raw, scope)):
            raise ValueError("not signed here")
        decoded = orjson.loads(raw)
        size = kinds if isinstance(kinds, int) else len(kinds)
        if not isinstance(decoded, list) or len(decoded) != size:
            raise ValueError("wrong length")
        values = [_decode_value(v) for v in decoded]
        if not isinstance(kinds, int):
            values = [_typed(v, k) for v, k in zip(values, kinds, strict=True)]
        return values
    except (ValueError, TypeError, OverflowError, ArithmeticError, binascii.Error, orjson.JSONDecodeError):
        raise InvalidInput(
            "cursor",
            "not a cursor this API issued for this list and these filters (the last page's next_cursor)",
            "query",
        ) from None


def _cursor_value(value: Any) -> Any:
    # Decimals and other exact values travel as their text; the column's type reads them back.
    return value if value is None or isinstance(value, (datetime, uuid.UUID, int, str)) else str(value)


def _attribute(column: Mapped[Any]) -> QueryableAttribute[Any]:
    """A model's column attribute: ``sqlmodel.col(Model.field)`` types it as ``Mapped``, and at
    runtime it is the class's instrumented attribute, which knows its SQL type and key."""
    return cast("QueryableAttribute[Any]", column)


async def paginate(
    session: Any,
    stmt: Select[Any],
    params: PageParams,
    order: tuple[Mapped[Any], ...],
    *,
    descending: bool = False,
    rows: bool = False,
) -> tuple[list[Any], str | None]:
    """Run ``stmt`` ordered by ``order`` (unique together) from the cursor on, ascending or
    descending (newest or largest first). ``rows``: the page is the statement's rows (it selects
    columns, those of ``order`` among them under their keys), not its first column's values.
    The cursors are bound to ``params.scope``."""
    scope = params.scope
    if params.cursor:
        values = decode_cursor(params.cursor, order, scope)
        bounds = [literal(v, type_=_attribute(col).type) for v, col in zip(values, order, strict=True)]
        # (a, b) > (x, y) spelled out as a OR (a = x AND b > y): portable, and index-friendly.
        clauses = []
        for i, col in enumerate(order):
            equal = [order[j] == bounds[j] for j in range(i)]
            clauses.append(and_(*equal, col < bounds[i] if descending else col > bounds[i]))
        # The redundant bound on the leading column lets the planner use an index range scan.
        lead = order[0] <= bounds[0] if descending else order[0] >= bounds[0]
        stmt = stmt.where(lead, or_(*clauses))
    ordering = [c.desc() for c in order] if descending else list(order)
    result = await session.execute(stmt.order_by(*ordering).limit(params.limit + 1))
    page = list(result.all() if rows else result.scalars())
    next_cursor = None
    if len(page) > params.limit:
        page = page[: params.limit]
        last = page[-1]
        next_cursor = encode_cursor([_cursor_value(getattr(last, _attribute(col).key)) for col in order], scope)
    return page, next_cursor
