"""Export jobs: asked for, run once across the replicas, written to the database in chunks, expired.

A job is run by the service's ``exports`` scheduled job (tessera_shared.jobs): one replica at a
time holds its lease and runs the queued exports oldest first; a job it finds ``running`` was
left by a replica that stopped (or froze past the lease), and is run again from the start with
the next ``attempt``. Every chunk is written in a transaction that first moves the job's
progress only where the job still has this run's attempt, so a stalled run's writes are refused
(and rolled back) once another run took the job over.

Rows are read ``page_rows`` at a time (on PostgreSQL through one server-side cursor, in the
table's stored order, one snapshot; on SQLite in pages by the source's key, a short transaction
each), encoded a page at a time, and written as chunks of about ``CHUNK_BYTES`` (each in a
transaction of its own) while the next page is read; memory stays flat with the row count.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
import zlib
from collections.abc import AsyncGenerator, AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from pydantic import ValidationError
from sqlalchemy import ColumnElement, Select, and_, delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tessera_shared.auth import Principal, Role
from tessera_shared.db import new_id, unit_of_work, utcnow
from tessera_shared.errors import Conflict, Forbidden, InvalidInput, NotFound, field_error
from tessera_shared.exports import formats
from tessera_shared.exports.settings import ExportSettings
from tessera_shared.exports.sources import ExportField, ExportSource
from tessera_shared.exports.tables import ExportTables
from tessera_shared.jobs import Job, ring_after_commit
from tessera_shared.search import _numeric as numeric

T = TypeVar("T")
log = logging.getLogger(__name__)

EXPORTS_DOORBELL = "exports"  # rung by a queued export (tessera_shared.jobs)

# A chunk's file bytes: each is a transaction (the job's progress, the chunk, the source's hook);
# 4 MiB took a million-customer export's chunk writes from 230 transactions to 58 (a third of the
# time the writes took besides the access log's lines).
CHUNK_BYTES = 4 * 1024 * 1024
# Chunks encoded and compressed, waiting for the writer (each about CHUNK_BYTES, and a fifth of it packed).
CHUNKS_AHEAD = 2
COMPRESSION_LEVEL = 1
ACTIVE = ("queued", "running")
STATUSES = ("queued", "running", "succeeded", "failed", "expired")


class RunFenced(Exception):
    """Another run took the job over (a later attempt): this one stops and writes nothing more."""


@dataclass(frozen=True)
class ExportRequest:
    resource: str
    format: formats.Format
    fields: list[str]
    filter_groups: list[dict[str, Any]]


def export_id(resource: str, job_id: uuid.UUID) -> str:
    """The public id names the resource (so the gateway knows which service holds it)."""
    return f"{resource}.{job_id}"


def parse_export_id(value: str, sources: Mapping[str, ExportSource]) -> uuid.UUID:
    resource, _, raw = value.partition(".")
    try:
        job_id = uuid.UUID(raw)
    except ValueError:
        raise NotFound("export", value) from None
    if resource not in sources:
        raise NotFound("export", value)
    return job_id


def filtered(source: ExportSource, filter_groups: list[dict[str, Any]], *, sqlite: bool) -> ColumnElement[bool] | None:
    """The export's filter groups as the resource's search compiles them (None: no filter)."""
    if not filter_groups:
        return None
    if source.search is None:
        raise InvalidInput("filter_groups", f"{source.resource} are exported without filters")
    try:
        body = source.search.request_model.model_validate({"filter_groups": filter_groups})
    except ValidationError as exc:
        raise InvalidInput.of(
            field_error(".".join(str(p) for p in e["loc"]), e["msg"]) for e in exc.errors(include_url=False)
        ) from None
    return source.search.where(body, numeric=numeric if sqlite else None)


def chosen_fields(source: ExportSource, names: list[str]) -> list[ExportField]:
    if not names:
        return [source.by_name[n] for n in source.default_fields]
    errors = [
        field_error(f"fields.{i}", f"unknown field {n!r}; known: {', '.join(source.by_name)}")
        for i, n in enumerate(names)
        if n not in source.by_name
    ]
    if errors:
        raise InvalidInput.of(errors)
    if len(set(names)) != len(names):
        raise InvalidInput("fields", "a field is named twice")
    return [source.by_name[n] for n in names]


async def create_export(
    session: AsyncSession,
    tables: ExportTables,
    sources: Mapping[str, ExportSource],
    request: ExportRequest,
    principal: Principal,
) -> Mapping[str, Any]:
    source = sources.get(request.resource)
    if source is None:
        raise InvalidInput("resource", f"this service exports {', '.join(sources)}, not {request.resource}")
    if not principal.may(source.roles):
        raise Forbidden(f"your role may not export {request.resource}", required_roles=sorted(source.roles))
    fields = chosen_fields(source, request.fields)
    filtered(source, request.filter_groups, sqlite=False)  # a 422 naming each bad filter, now
    row = {
        "id": new_id(),
        "resource": source.resource,
        "format": request.format,
        "fields": [f.name for f in fields],
        "filter_groups": request.filter_groups,
        "scope": source.scope(principal),
        "requested_by": principal.subject,
        "status": "queued",
        "attempt": 0,
        "rows_written": 0,
        "bytes_written": 0,
        "created_at": utcnow(),
    }
    await session.execute(insert(tables.jobs).values(**row))
    ring_after_commit(session, EXPORTS_DOORBELL)  # the job runs it once this commits
    return await load_export(session, tables, uuid.UUID(str(row["id"])), principal)


async def load_export(
    session: AsyncSession, tables: ExportTables, job_id: uuid.UUID, principal: Principal
) -> Mapping[str, Any]:
    """The job, to its requester (or an admin); anyone else is told it does not exist."""
    job = (await session.execute(select(tables.jobs).where(tables.jobs.c.id == job_id))).mappings().first()
    if job is None or not (job["requested_by"] == principal.subject or Role.ADMIN in principal.roles):
        raise NotFound("export", job_id)
    return dict(job)


async def file_chunks(
    sessions: async_sessionmaker[AsyncSession], tables: ExportTables, job: Mapping[str, Any]
) -> AsyncIterator[bytes]:
    """The file's chunks in order, each read in its own short transaction."""
    seq = 0
    while True:
        async with sessions() as session:
            data = await session.scalar(
                select(tables.chunks.c.data).where(tables.chunks.c.job_id == job["id"], tables.chunks.c.seq == seq)
            )
        if data is None:
            return
        yield zlib.decompress(data)
        seq += 1


def ready_file(job: Mapping[str, Any]) -> None:
    if job["status"] == "expired":
        raise Conflict("the export's file has expired; ask for a new export", kind="export-expired")
    if job["status"] != "succeeded":
        raise Conflict(f"the export is {job['status']}; its file is there once it succeeded", kind="export-not-ready")


async def expire_exports(sessions: async_sessionmaker[AsyncSession], tables: ExportTables, now: datetime) -> int:
    """Delete the files past their expiry (the jobs stay, as expired)."""
    jobs = tables.jobs
    async with unit_of_work(sessions) as session:
        expired = list(
            (
                await session.scalars(
                    select(jobs.c.id).where(jobs.c.status == "succeeded", jobs.c.expires_at <= now).limit(100)
                )
            ).all()
        )
        if expired:
            await session.execute(delete(tables.chunks).where(tables.chunks.c.job_id.in_(expired)))
            await session.execute(update(jobs).where(jobs.c.id.in_(expired)).values(status="expired"))
    return len(expired)


async def run_exports(
    sessions: async_sessionmaker[AsyncSession],
    tables: ExportTables,
    sources: Mapping[str, ExportSource],
    now: datetime,
    *,
    ttl_seconds: float,
    page_rows: int,
) -> int:
    """One round of the exports job: expire old files, then run every queued export. The number run."""
    while await expire_exports(sessions, tables, now) == 100:
        pass
    ran = 0
    while True:
        async with sessions() as session:
            job_id = await session.scalar(
                select(tables.jobs.c.id)
                .where(tables.jobs.c.status.in_(ACTIVE))
                .order_by(tables.jobs.c.created_at, tables.jobs.c.id)
                .limit(1)
            )
        if job_id is None:
            return ran
        await run_export(sessions, tables, sources, job_id, ttl_seconds=ttl_seconds, page_rows=page_rows)
        ran += 1


async def run_export(
    sessions: async_sessionmaker[AsyncSession],
    tables: ExportTables,
    sources: Mapping[str, ExportSource],
    job_id: uuid.UUID,
    *,
    ttl_seconds: float,
    page_rows: int,
) -> None:
    jobs = tables.jobs
    async with unit_of_work(sessions) as session:
        claimed = (
            (
                await session.execute(
                    update(jobs)
                    .where(jobs.c.id == job_id, jobs.c.status.in_(ACTIVE))
                    .values(
                        status="running",
                        attempt=jobs.c.attempt + 1,
                        started_at=utcnow(),
                        rows_written=0,
                        bytes_written=0,
                    )
                    .returning(*jobs.c)
                )
            )
            .mappings()
            .first()
        )
        if claimed is None:
            return
        job = dict(claimed)
        # Whatever an earlier run of this job wrote goes: the file is written again from the start.
        await session.execute(delete(tables.chunks).where(tables.chunks.c.job_id == job_id))
    try:
        await _write(sessions, tables, sources[job["resource"]], job, ttl_seconds=ttl_seconds, page_rows=page_rows)
    except RunFenced:
        log.warning("export taken over by another run", extra={"export_id": str(job_id)})
    except Exception as exc:
        log.exception("export failed", extra={"export_id": str(job_id)})
        async with unit_of_work(sessions) as session:
            await session.execute(
                update(jobs)
                .where(jobs.c.id == job_id, jobs.c.attempt == job["attempt"])
                .values(status="failed", error=f"{type(exc).__name__}: {exc}"[:500], finished_at=utcnow())
            )


async def _write(
    sessions: async_sessionmaker[AsyncSession],
    tables: ExportTables,
    source: ExportSource,
    job: dict[str, Any],
    *,
    ttl_seconds: float,
    page_rows: int,
) -> None:
    fields = [source.by_name[name] for name in job["fields"]]
    conditions = source.conditions(job["scope"])
    sqlite = sessions.kw["bind"].dialect.name == "sqlite"
    if (condition := filtered(source, job["filter_groups"], sqlite=sqlite)) is not None:
        conditions = [*conditions, condition]
    dialect = "sqlite" if sqlite else "postgresql"
    # The key as the driver gives it (a UUID as its text on PostgreSQL: the next page's bound and
    # the ids given to the source's hook, which PostgreSQL reads back as UUIDs).
    key = formats.selected_key(source.key, dialect)
    base = select(key, *formats.select_columns(job["format"], fields, dialect)).select_from(source.table)
    if conditions:
        base = base.where(and_(*conditions))
    async with sessions() as session:
        count = select(func.count()).select_from(source.table)
        total = await session.scalar(count.where(and_(*conditions)) if conditions else count)
        await session.execute(update(tables.jobs).where(tables.jobs.c.id == job["id"]).values(rows_total=total))
        await session.commit()
    writer = _ChunkWriter(sessions, tables, source, job)
    pages = _keyset_pages(sessions, base, source.key, page_rows) if sqlite else _cursor_pages(sessions, base, page_rows)

    async def next_page() -> Sequence[Any] | None:
        return await anext(pages, None)

    # Three things at once: the database reads the next page, this process encodes the last one
    # (and compresses a full chunk in a thread), and the chunks ready are written one after the
    # other by the writer task, up to CHUNKS_AHEAD of them waiting (memory stays bounded; the
    # writes, each with its access log lines, are what a large export waits for).
    ready: asyncio.Queue[tuple[bytes, bytes, list[Any], bool]] = asyncio.Queue(maxsize=CHUNKS_AHEAD)
    stop = asyncio.Event()

    async def write_in_order() -> None:
        while (chunk := await _next_or_stop(ready, stop)) is not None:
            data, packed, chunk_ids, last = chunk
            await writer.write(data, packed=packed, ids=chunk_ids, last=last, ttl_seconds=ttl_seconds)
            if last:
                return

    async def hand_over(chunk: tuple[bytes, bytes, list[Any], bool]) -> None:
        """Queue a chunk for the writer; the writer's error (e.g. RunFenced) if it stopped."""
        put = asyncio.ensure_future(ready.put(chunk))
        await asyncio.wait((put, writing), return_when=asyncio.FIRST_COMPLETED)
        if not put.done():
            put.cancel()
            writing.result()  # raises what stopped the writer
            raise RuntimeError("the export's writer stopped")  # pragma: no cover - it returns on the last chunk only

    buffer = bytearray(formats.header(job["format"], fields))
    ids: list[Any] = []
    reading: asyncio.Task[Sequence[Any] | None] = asyncio.create_task(next_page())
    writing: asyncio.Task[None] = asyncio.create_task(write_in_order())
    try:
        while True:
            rows = await reading
            if rows is not None:
                reading = asyncio.create_task(next_page())
                columns = list(zip(*rows, strict=True))  # the page column by column, the key first
                buffer += formats.encode_columns(job["format"], fields, columns[1:])
                ids.extend(columns[0])
            if len(buffer) >= CHUNK_BYTES or rows is None:
                data, chunk_ids = bytes(buffer), ids
                buffer, ids = bytearray(), []
                # zlib lets go of the GIL: the next page is read (and the last chunk written) meanwhile.
                packed = await asyncio.to_thread(zlib.compress, data, COMPRESSION_LEVEL) if data else b""
                await hand_over((data, packed, chunk_ids, rows is None))
                if rows is None:
                    await writing
                    return
    finally:
        # The page being read and the chunk being written are finished, not cancelled: a statement
        # cut off midway can leave its connection in a transaction (on SQLite, holding the
        # database's write lock until the connection is collected); the writer stops before the
        # next chunk.
        stop.set()
        for task in (reading, writing):
            with contextlib.suppress(BaseException):
                await task
        await pages.aclose()


async def _next_or_stop(queue: asyncio.Queue[T], stop: asyncio.Event) -> T | None:
    """The queue's next item, or None once ``stop`` is set (waiting on a queue is safe to cancel)."""
    get = asyncio.ensure_future(queue.get())
    stopped = asyncio.ensure_future(stop.wait())
    await asyncio.wait((get, stopped), return_when=asyncio.FIRST_COMPLETED)
    stopped.cancel()
    if get.done():
        return get.result()
    get.cancel()
    return None


async def _cursor_pages(
    sessions: async_sessionmaker[AsyncSession], stmt: Select[Any], page_rows: int
) -> AsyncGenerator[Sequence[Any]]:
    """PostgreSQL: the rows through one server-side cursor, ``page_rows`` a fetch, in the order
    the table is stored (a sequential read; walking a million rows by their key read the table
    a row at a time in key order, four times slower than COPY of the whole). One read-only
    transaction for the whole export, so the file is one snapshot; it holds no lock, and each
    fetch is a statement of its own (under the sessions' statement timeout)."""
    async with sessions() as session:
        result = await session.stream(stmt.execution_options(yield_per=page_rows))
        async for rows in result.partitions(page_rows):
            yield rows


async def _keyset_pages(
    sessions: async_sessionmaker[AsyncSession], stmt: Select[Any], key: ColumnElement[Any], page_rows: int
) -> AsyncGenerator[Sequence[Any]]:
    """SQLite: pages in key order, each read in a short transaction of its own (a session there
    begins by taking the write lock: one held for the whole export would shut out the chunks'
    writes)."""
    after: Any = None
    while True:
        page = stmt.order_by(key).limit(page_rows)
        if after is not None:
            page = page.where(key > after)
        async with sessions() as session:
            rows = list((await session.execute(page)).all())
        if rows:
            yield rows
        if len(rows) < page_rows:
            return
        after = rows[-1][0]


class _ChunkWriter:
    """Writes a run's chunks in order, each with the job's progress (fenced by the run's attempt)."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        tables: ExportTables,
        source: ExportSource,
        job: dict[str, Any],
    ) -> None:
        self.sessions = sessions
        self.tables = tables
        self.source = source
        self.job = job
        self.seq = 0
        self.rows = 0
        self.bytes = 0

    async def write(
        self,
        data: bytes,
        *,
        packed: bytes | None = None,
        ids: Sequence[Any] = (),
        last: bool = False,
        ttl_seconds: float = 0,
    ) -> None:
        """``data`` as the next chunk, holding the rows of ``ids`` (given to the source's hook);
        ``packed``: ``data`` compressed already (zlib), else it is compressed here."""
        jobs = self.tables.jobs
        values: dict[str, Any] = {"rows_written": self.rows + len(ids), "bytes_written": self.bytes + len(data)}
        if last:
            now = utcnow()
            values.update(status="succeeded", finished_at=now, expires_at=now + timedelta(seconds=ttl_seconds))
        async with unit_of_work(self.sessions) as session:
            # The job's row first: refused (and this transaction rolled back) if another run took it.
            moved = await session.execute(
                update(jobs)
                .where(jobs.c.id == self.job["id"], jobs.c.attempt == self.job["attempt"], jobs.c.status == "running")
                .values(**values)
                .returning(jobs.c.id)
            )
            if moved.first() is None:
                raise RunFenced
            if data:
                # Compressed (zlib, fast level): a fifth of the bytes to send, log and keep, and
                # the server's own (slower) column compression finds nothing left to do.
                if packed is None:
                    packed = zlib.compress(data, COMPRESSION_LEVEL)
                await session.execute(
                    insert(self.tables.chunks).values(job_id=self.job["id"], seq=self.seq, data=packed)
                )
            if self.source.on_rows is not None and ids:
                await self.source.on_rows(session, ids, self.job["requested_by"])
        if data:
            self.seq += 1
        self.rows, self.bytes = values["rows_written"], values["bytes_written"]


def exports_job(
    service: str, settings: ExportSettings, tables: ExportTables, sources: Mapping[str, ExportSource]
) -> Job:
    """The ``<service>-exports`` scheduled job (one replica at a time, under its lease)."""

    async def run(sessions: async_sessionmaker[AsyncSession], now: datetime) -> object:
        return await run_exports(
            sessions, tables, sources, now, ttl_seconds=settings.export_ttl_seconds, page_rows=settings.export_page_rows
        )

    return Job(f"{service}-exports", settings.export_job_interval_seconds, run, doorbell=EXPORTS_DOORBELL)
