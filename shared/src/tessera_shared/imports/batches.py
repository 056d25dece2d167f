"""Valid import rows stored batch by batch, and the report of what became of every row."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from typing import Any, Generic, TypeVar

from pydantic import BaseModel
from sqlalchemy import ColumnElement, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tessera_shared.db import unit_of_work
from tessera_shared.errors import DomainError, InvalidInput, NotFound
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


def row_errors(line: int, exc: DomainError) -> list[RowError]:
    """A rule's refusal of one row, named by field where the rule names one."""
    if isinstance(exc, InvalidInput):
        return [RowError(line, e["field"], e["message"]) for e in exc.errors]
    if isinstance(exc, NotFound) and exc.what:
        return [RowError(line, f"{exc.what}_id", exc.detail)]
    return [RowError(line, "row", exc.detail)]


def one_by_one(
    external_id: ColumnElement[Any],
    create: Callable[[AsyncSession, Row[M]], Awaitable[object]],
    check: Callable[[list[Row[M]]], Awaitable[dict[int, list[RowError]]]] | None = None,
) -> Store[M]:
    """A store that creates each row through the resource's single-write use case (its rules,
    its events), each in a savepoint of the batch's transaction: a row a rule refuses is reported
    by line and field and leaves nothing behind. Rows whose external_id exists are skipped
    (a re-import creates nothing twice). ``check`` runs before the transaction opens (e.g. the
    read-through of the customers the rows name) and may refuse rows by line."""

    async def store(sessions: async_sessionmaker[AsyncSession], batch: list[Row[M]]) -> BatchResult:
        refused = dict(await check(batch)) if check is not None else {}
        created = 0
        async with unit_of_work(sessions) as session:
            keys = [getattr(row.data, "external_id", None) for row in batch]
            existing = set((await session.scalars(select(external_id).where(external_id.in_(keys)))).all())
            for row in batch:
                if row.line in refused or getattr(row.data, "external_id", None) in existing:
                    continue
                try:
                    async with session.begin_nested():
                        await create(session, row)
                except DomainError as exc:
                    refused[row.line] = row_errors(row.line, exc)
                    continue
                except IntegrityError:  # the same external_id, created meanwhile by another writer
                    continue
                created += 1
        return BatchResult(created, list(refused.values()))

    return store
