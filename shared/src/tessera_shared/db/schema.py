"""Schema helpers: metadata with stable constraint names, table access, dialect-aware statements."""

from __future__ import annotations

import typing
from typing import Any

from sqlalchemy import CursorResult, MetaData, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session
from sqlalchemy.sql.dml import UpdateBase
from sqlmodel import SQLModel

# Stable constraint names, so that migrations can drop and alter them on both databases.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def new_metadata() -> MetaData:
    return MetaData(naming_convention=NAMING_CONVENTION)


def dialect_name(session: AsyncSession | Session) -> str:
    """The session's database, ``"postgresql"`` or ``"sqlite"`` (from its bind; no connection is made)."""
    return session.get_bind().dialect.name


def table_of(model: type[SQLModel]) -> Table:
    """A table model's ``Table`` (for Core statements and RowBuffer)."""
    table: Table = model.__table__  # type: ignore[attr-defined]  # set by the mapping; SQLModel does not declare it
    return table


async def affected_rows(session: AsyncSession, statement: UpdateBase) -> int:
    """Run an UPDATE or DELETE; the number of rows it matched.

    Its result is a CursorResult, which has ``rowcount``; ``AsyncSession.execute`` is typed as
    returning the base Result, which has not."""
    result = typing.cast("CursorResult[Any]", await session.execute(statement))
    return result.rowcount


def upsert(session: AsyncSession | Session, entity: Any) -> Any:
    """An INSERT into ``entity`` (a table or a mapped class) that takes ``on_conflict_do_nothing``
    and ``on_conflict_do_update``, in the session's dialect (PostgreSQL or SQLite). With a mapped
    class it is an ORM statement: the session flushes its pending objects first."""
    module = postgresql if dialect_name(session) == "postgresql" else sqlite
    return module.insert(entity)
