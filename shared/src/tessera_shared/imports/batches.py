"""Valid import rows stored batch by batch, and the report of what became of every row."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Coroutine, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from typing import Any, Generic, TypeVar

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tessera_shared.imports.parsing import RowError

MAX_REPORTED_ERRORS = 1000
M = TypeVar("M", bound=BaseModel)


@dataclass
class ImportReport:
    received: int = 0
    created: int = 0
    existing: int = 0
    failed: int = 0
    errors: list[RowError] = field(default_factory=list)
    errors_truncated: bool = False

    def fail(self, errors: list[RowError]) -> None:
        self.failed += 1
        room = MAX_REPORTED_ERRORS - len(self.errors)
        self.errors.extend(errors[: max(room, 0)])
        self.errors_truncated = self.errors_truncated or len(errors) > room


@dataclass
class BatchResult:
    """What a batch's store made of its rows: how many are new; the rows a rule refused (each
    row's errors); the rest existed already (their external_id was imported before)."""

    created: int
    refused: list[list[RowError]] = field(default_factory=list)


@dataclass(frozen=True)
class Row(Generic[M]):
    line: int
    data: M


def valid_rows(
    rows: Iterable[tuple[int, dict[str, Any] | RowError]],
    report: ImportReport,
    validate: Callable[[int, dict[str, Any]], M | list[RowError]],
) -> Iterator[Row[M]]:
    """The rows that pass the API's schema; the others are counted and reported by line (so is
    an external_id given twice in one file)."""
    first_line: dict[str, int] = {}
    for line, record in rows:
        report.received += 1
        result = record if isinstance(record, RowError) else validate(line, record)
        if isinstance(result, RowError):
            report.fail([result])
        elif isinstance(result, list):
            report.fail(result)
        elif (seen := first_line.setdefault(getattr(result, "external_id", "") or "", line)) != line:
            report.fail([RowError(line, "external_id", f"appears again (first at line {seen})")])
        else:
            yield Row(line, result)


Store = Callable[[async_sessionmaker[AsyncSession], list[Row[M]]], Coroutine[Any, Any, BatchResult]]


async def store_in_batches(
    sessions: async_sessionmaker[AsyncSession],
    rows: Iterator[Row[M]],
    report: ImportReport,
    batch_size: int,
    store: Store[M],
) -> ImportReport:
    """Store ``rows`` batch by batch: the next batch is parsed and validated (in a worker thread)
    while the database writes the ones before; on PostgreSQL two batches are written at once (one
    transaction waits on the server while the other's rows are sent), on SQLite one."""
    in_flight = 2 if sessions.kw["bind"].dialect.name == "postgresql" else 1
    pending: deque[tuple[int, asyncio.Task[BatchResult]]] = deque()

    def take() -> list[Row[M]]:
        return list(islice(rows, batch_size))

    async def settle_oldest() -> None:
        size, task = pending.popleft()
        result = await task
        report.created += result.created
        for errors in result.refused:
            report.fail(errors)
        report.existing += size - result.created - len(result.refused)

    try:
        batch = await asyncio.to_thread(take)
        while batch:
            pending.append((len(batch), asyncio.create_task(store(sessions, batch))))
            if len(pending) >= in_flight:
                await settle_oldest()
            batch = await asyncio.to_thread(take)
        while pending:
            await settle_oldest()
    finally:
        for _, task in pending:  # after a failure: the other write is not left running unobserved
            task.cancel()
        await asyncio.gather(*(task for _, task in pending), return_exceptions=True)
    return report
