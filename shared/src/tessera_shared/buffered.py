"""Write-behind for append-only rows (audit trails of reads): batched, off the request path.

A read should not pay for a write transaction of its own. Rows wait in memory for at most
``flush_interval`` seconds and are inserted together; stopping the service flushes what is
left. The trade: a crash (kill -9) can lose the last fraction of a second of read-audit rows,
never business data, which is always written in the request's own transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from typing import Any

from sqlalchemy import Table, insert
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
        if not self._size:
            return
        rows, self._rows, self._size = self._rows, defaultdict(list), 0
        try:
            async with unit_of_work(self._sessions) as session:
                for table, batch in rows.items():
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
