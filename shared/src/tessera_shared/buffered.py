"""Write-behind for append-only rows (audit trails of reads): batched, off the request path.

A read should not pay for a write transaction of its own. Rows wait in memory for at most
``flush_interval`` seconds and are inserted together; stopping the service flushes what is
left. The trade: a crash (kill -9) can lose the last fraction of a second of read-audit rows,
never business data, which is always written in the request's own transaction.

On PostgreSQL (asyncpg) a batch is written by ``COPY`` on the session's own connection, in its
transaction, with each value as SQLAlchemy would bind it (the column types' bind processors):
an ``INSERT`` of many rows through SQLAlchemy cost more CPU than the requests that queued them
(the gateway's audit rows, docs/performance.md Round 7b). A batch whose rows name different
columns, or that leaves out a column with a Python-side default, is inserted as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from typing import Any

from sqlalchemy import Table, insert
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tessera_shared.db import unit_of_work
from tessera_shared.tasks import finish_or_cancel

log = logging.getLogger(__name__)


class RowBuffer:
    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], *, flush_interval: float = 0.2, max_rows: int = 2000
    ) -> None:
        self._sessions = sessions
        self._interval = flush_interval
        self._max_rows = max_rows
        self._rows: dict[Table, list[dict[str, Any]]] = defaultdict(list)
        self._size = 0
        self._wake = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        # One flush at a time: a flush asked for while the background one is writing waits for
        # it, so "flushed" means on the table (the audit log flushes before it lists).
        self._flushing = asyncio.Lock()

    def add(self, table: Table, row: dict[str, Any]) -> None:
        self._rows[table].append(row)
        self._size += 1
        if self._size >= self._max_rows:
            self._wake.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="row-buffer")

    async def stop(self, timeout: float = 5.0) -> None:
        self._stopping = True
        self._wake.set()
        await finish_or_cancel(self._task, timeout)
        await self.flush()

    async def flush(self) -> None:
        async with self._flushing:
            await self._flush()

    async def _flush(self) -> None:
        if not self._size:
            return
        rows, self._rows, self._size = self._rows, defaultdict(list), 0
        try:
            async with unit_of_work(self._sessions) as session:
                for table, batch in rows.items():
                    if not await copy_rows(session, table, batch):
                        await session.execute(insert(table), batch)
        except Exception:
            # Put them back: the database may be briefly away; they go with the next flush.
            for table, batch in rows.items():
                self._rows[table][:0] = batch
                self._size += len(batch)
            raise

    async def _run(self) -> None:
        while not self._stopping:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._interval)
            self._wake.clear()
            try:
                await self.flush()
            except Exception:
                log.warning("could not write buffered rows; retrying", exc_info=True)
                await asyncio.sleep(min(self._interval * 5, 2.0))


def _copyable(table: Table, batch: list[dict[str, Any]]) -> list[str] | None:
    """The columns a COPY of ``batch`` names, or None when it must be an INSERT."""
    names = list(batch[0])
    keys = set(names)
    if not keys <= set(table.c.keys()) or any(row.keys() != keys for row in batch):
        return None
    if any(c.default is not None for c in table.c if c.key not in keys):
        return None
    return names


def _processors(table: Table, names: list[str], dialect: Dialect) -> list[Any]:
    return [table.c[name].type._cached_bind_processor(dialect) for name in names]


async def copy_rows(session: AsyncSession, table: Table, batch: list[dict[str, Any]]) -> bool:
    """``batch`` into ``table`` by COPY on PostgreSQL (asyncpg) in the session's transaction;
    False (nothing written) elsewhere or when the rows need an INSERT."""
    connection = await session.connection()
    dialect = connection.dialect
    if dialect.name != "postgresql" or dialect.driver != "asyncpg" or not batch:
        return False
    names = _copyable(table, batch)
    if names is None:
        return False
    processors = _processors(table, names, dialect)
    columns = list(zip(names, processors, strict=True))
    records = [tuple(row[n] if p is None else p(row[n]) for n, p in columns) for row in batch]
    raw = await connection.get_raw_connection()
    # SQLAlchemy's asyncpg adaptor (2.1) begins its transaction at the first statement: the COPY
    # starts it the same way, so it is committed or rolled back with the session; a driver
    # error is raised as the SQLAlchemy error an INSERT would have raised (IntegrityError ...).
    adapted: Any = raw.dbapi_connection
    if not all(hasattr(adapted, a) for a in ("_execute_mutex", "_transaction", "_start_transaction")):
        return False
    statement = f"COPY {table.name}"
    async with adapted._execute_mutex:
        try:
            if adapted._transaction is None:
                await adapted._start_transaction()
            await adapted._connection.copy_records_to_table(
                table.name, records=records, columns=[table.c[n].name for n in names], schema_name=table.schema
            )
        except Exception as error:
            if isinstance(error, sa_exc.DBAPIError):
                raise
            try:
                adapted._handle_exception(error)
            except Exception as dbapi_error:
                raise sa_exc.DBAPIError.instance(statement, None, dbapi_error, dialect.loaded_dbapi.Error) from error
            raise
    return True
