"""Reading and writing customer records."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from typing import Any

import orjson
from sqlalchemy import Text, bindparam, cast, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped
from sqlmodel import col

from tessera_customer.customers.filters import CustomerFilter
from tessera_customer.customers.models import DEMOGRAPHIC, GEOGRAPHIC, PSYCHOGRAPHIC, TAGS, Customer
from tessera_shared.db.direct import read_row
from tessera_shared.errors import NotFound
from tessera_shared.http.pagination import PageParams, paginate


class CustomerMerged(NotFound):
    """A merged customer's id: 404, with ``merged_into`` naming the survivor."""

    def __init__(self, customer_id: uuid.UUID, merged_into: uuid.UUID) -> None:
        super().__init__("customer", customer_id, detail=f"customer {customer_id} was merged into {merged_into}")
        self.merged_into = merged_into

    def members(self) -> dict[str, Any]:
        return {"merged_into": str(self.merged_into)}


async def load_customer(session: AsyncSession, customer_id: uuid.UUID, *, for_update: bool = False) -> Customer:
    """The live customer: NotFound, or CustomerMerged pointing at its survivor."""
    # None, not False: any with_for_update value but None bypasses the identity map (a query
    # per call; a summary read loaded the same customer seven times).
    customer = await session.get(Customer, customer_id, with_for_update=True if for_update else None)
    if customer is None:
        raise NotFound("customer", customer_id)
    if customer.merged_into_id is not None:
        raise CustomerMerged(customer_id, customer.merged_into_id)
    return customer


class CustomerRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, customer_id: uuid.UUID) -> Customer | None:
        return await self.session.get(Customer, customer_id)

    def add(self, customer: Customer) -> None:
        self.session.add(customer)

    async def set_tags(self, customer_id: uuid.UUID, tags: list[str]) -> None:
        await TAGS.set(self.session, customer_id, tags)

    async def list(
        self, params: PageParams, filters: CustomerFilter, where: Sequence[Any] = ()
    ) -> tuple[list[Customer], str | None]:
        """One page by id, or by (name_key, id) with a search: the list and segment members share this query."""
        return await paginate(self.session, filters.apply(select(Customer)).where(*where), params, page_order(filters))


async def list_rows(
    session: AsyncSession, params: PageParams, filters: CustomerFilter, where: Sequence[Any] = ()
) -> tuple[list[Any], str | None]:
    """``CustomerRepository.list``'s page as rows of CUSTOMER_ROWS (for ``page_values``)."""
    return await paginate(session, filters.apply(CUSTOMER_ROWS).where(*where), params, page_order(filters), rows=True)


def page_order(filters: CustomerFilter) -> tuple[Mapped[Any], ...]:
    """A name search pages in (name_key, id) order: its matches are then one index range that a page
    leaves after limit + 1 rows, however many customers share the prefix."""
    return (col(Customer.name_key), col(Customer.id)) if filters.q else (col(Customer.id),)


# What a customer's answer (CustomerOut) is made of: the columns, without the ORM object.
OUT_COLUMNS = (
    "id", "kind", "name", "email", "phone", "owner_id", "status", "tags", "channels", "relation",
    "relationship_type", *DEMOGRAPHIC, *GEOGRAPHIC, *PSYCHOGRAPHIC, "custom_attributes", "custom_fields",
    "external_id", "team_id", "lifecycle_stage", "tier", "purchase_count", "first_purchase_at",
    "last_purchase_at", "lifetime_values", "monetary", "rfm_recency", "rfm_frequency", "rfm_monetary",
    "rfm_segment", "frequency_class", "churn_risk", "value_computed_at", "erased_at", "created_at",
    "updated_at", "version",
)  # fmt: skip


# JSON columns of OUT_COLUMNS read as their text and parsed here: the driver's decoder is the
# stdlib's, value by value. Lists of strings (validated on the way in) go to orjson; the others
# to json (orjson would read an integer past 64 bits as a float); an empty one to neither.
_STRING_LISTS = {"tags", "channels", "preferences"}
_JSON_VALUES = {"custom_attributes", "custom_fields", "lifetime_values"}


def _loads(text: str | None) -> Any:
    if text == "{}":
        return {}
    if text == "[]":
        return []
    return None if text is None else json.loads(text)


def _string_list(text: str | None) -> Any:
    return [] if text == "[]" else None if text is None else orjson.loads(text)


def _out_columns() -> list[Any]:
    table = Customer.__table__
    return [cast(table.c[n], Text) if n in _STRING_LISTS | _JSON_VALUES else table.c[n] for n in OUT_COLUMNS]


_PARSERS = [
    (i, _string_list if n in _STRING_LISTS else _loads)
    for i, n in enumerate(OUT_COLUMNS)
    if n in _STRING_LISTS | _JSON_VALUES
]


def _parsed(row: Sequence[Any]) -> list[Any]:
    values = list(row)
    for i, parse in _PARSERS:
        values[i] = parse(values[i])
    return values


async def _connection(db: AsyncSession | AsyncConnection) -> AsyncConnection:
    return await db.connection() if isinstance(db, AsyncSession) else db


async def live_customer_rows(
    db: AsyncSession | AsyncConnection, ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[Any]]:
    """The live (not merged) customers among ``ids`` by id, each as the values of OUT_COLUMNS: a
    Core select on the session's connection, no ORM objects or identity map (the batch read
    answers 1,000 at once)."""
    table = Customer.__table__
    stmt = select(*_out_columns()).where(table.c.id.in_(ids), table.c.merged_into_id.is_(None))
    found: dict[uuid.UUID, list[Any]] = {}
    for row in (await (await _connection(db)).execute(stmt)).all():
        values = _parsed(row)
        found[values[0]] = values
    return found


# The customers' OUT_COLUMNS, then ``name_key`` (the name's sort key), each column under its
# name: a page of the list or a search as rows (``page_values`` reads them), no ORM objects.
# Built once (~80 us a time; a statement is immutable, each page adds to its own copy).
CUSTOMER_ROWS = select(*_out_columns(), Customer.__table__.c.name_key)
LIVE_CUSTOMERS = CustomerFilter().apply(CUSTOMER_ROWS)


def page_values(rows: Sequence[Sequence[Any]]) -> list[list[Any]]:
    """The values of OUT_COLUMNS of each row of ``live_customers_select`` (JSON columns parsed)."""
    n = len(OUT_COLUMNS)
    return [_parsed(row[:n]) for row in rows]


# One statement for every single read (an IN list is expanded into new SQL text at each call).
_ONE_LIVE = select(*_out_columns()).where(
    Customer.__table__.c.id == bindparam("customer_id"), Customer.__table__.c.merged_into_id.is_(None)
)


async def live_customer_row(db: AsyncSession | AsyncConnection, customer_id: uuid.UUID) -> list[Any] | None:
    """One live customer as the values of OUT_COLUMNS (None: no such customer, or merged)."""
    row = (await (await _connection(db)).execute(_ONE_LIVE, {"customer_id": customer_id})).first()
    return None if row is None else _parsed(row)


async def live_customer_row_direct(
    sessions: async_sessionmaker[AsyncSession], customer_id: uuid.UUID
) -> list[Any] | None:
    """``live_customer_row`` outside any session, from the driver itself on PostgreSQL (the fast read)."""
    row = await read_row(sessions, _ONE_LIVE, {"customer_id": customer_id})
    return None if row is None else _parsed(row)
