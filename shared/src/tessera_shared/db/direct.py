"""One row of a Core select read straight from the PostgreSQL driver, for the hottest reads.

Running a select through SQLAlchemy's engine (execution context, cursor adapter, result set,
events) cost a GET by id more CPU than the database's answer; asyncpg alone, its statement
prepared once per connection, is what a read costs at least (docs/performance.md, round 8a).
``read_row`` compiles the statement once per dialect (the SQL text, its parameters' order and
its columns' result processors, so the values are those SQLAlchemy would give), then on
PostgreSQL asks a pooled connection's own asyncpg connection (``fetchrow``: asyncpg prepares and
caches the statement per connection); elsewhere (SQLite) it executes through SQLAlchemy on a
read connection (``read_connection``). On PostgreSQL the statement runs in autocommit, outside
SQLAlchemy's transaction bookkeeping. Bind values go to the driver as they are (no bind
processors): give it what asyncpg takes (a uuid.UUID, a str, an int ...). A driver error is
not wrapped in SQLAlchemy's exceptions.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.util import greenlet_spawn

from tessera_shared.db.sessions import read_connection


@dataclass(frozen=True)
class _Plan:
    sql: str
    names: tuple[str, ...]  # the bind parameters, in the order of $1, $2 ...
    processors: tuple[tuple[int, Callable[[Any], Any]], ...]  # (column index, result processor)


_PLANS: dict[tuple[int, str], tuple[Select[Any], _Plan]] = {}


async def _plan(stmt: Select[Any], dialect: Dialect, driver: Any) -> _Plan:
    key = (id(stmt), dialect.name)
    found = _PLANS.get(key)
    if found is not None and found[0] is stmt:
        return found[1]
    compiled = stmt.compile(dialect=dialect)
    sql = str(compiled)
    # The result processors as SQLAlchemy picks them, by the type the server gives each column.
    attributes = (await driver.prepare(sql)).get_attributes()
    processors = []
    for i, (column, attribute) in enumerate(zip(stmt.selected_columns, attributes, strict=True)):
        processor = column.type._cached_result_processor(dialect, attribute.type.oid)
        if processor is not None:
            processors.append((i, processor))
    plan = _Plan(sql, tuple(compiled.positiontup or ()), tuple(processors))
    _PLANS[key] = (stmt, plan)  # the statement kept: its id is not reused while it is cached
    return plan


async def _driver_row(dialect: Dialect, driver: Any, stmt: Select[Any], params: Mapping[str, Any]) -> list[Any] | None:
    plan = await _plan(stmt, dialect, driver)
    record = await driver.fetchrow(plan.sql, *[params[name] for name in plan.names])
    if record is None:
        return None
    values = list(record)
    for i, process in plan.processors:
        values[i] = process(values[i])
    return values


async def read_row(
    factory: async_sessionmaker[AsyncSession], stmt: Select[Any], params: Mapping[str, Any]
) -> Sequence[Any] | None:
    """The first row of ``stmt`` (its values as SQLAlchemy would give them), or None, on a
    connection of its own: on PostgreSQL one checked out of the engine's
    pool and returned, with no engine ``Connection`` around it (no execution options, isolation
    level set and reset, transaction or events: ~15% of a GET by id's CPU); asyncpg runs the
    statement in autocommit, and the pool's reset on return finds no transaction to roll back.
    Elsewhere a read connection (``read_connection``)."""
    engine: AsyncEngine = factory.kw["bind"]
    if engine.dialect.name != "postgresql":
        async with read_connection(factory) as conn:
            row = (await conn.execute(stmt, dict(params))).first()
        return None if row is None else tuple(row)
    fairy = await greenlet_spawn(engine.sync_engine.pool.connect)
    try:
        return await _driver_row(engine.dialect, fairy.driver_connection, stmt, params)
    finally:
        # Returned even when the caller is cancelled meanwhile (as AsyncConnection's exit does).
        await asyncio.shield(greenlet_spawn(fairy.close))
