"""Ownership transfer jobs: asked for, run once across the replicas in batches, each record announced.

A service describes what it can move as ``TransferSource``s (one per resource: its table, the
column naming the owner, what "open" means, the events a moved record makes). A job moves, per
resource, every record of ``from_user`` (only the open ones when ``only_open``) to ``to_user`` in
batches of ``batch_rows``: one transaction per batch selects the next ids (keyset by id), moves them
with one UPDATE that checks the owner (and openness) again (a record another writer changed
meanwhile is left alone), bumps their version, writes their events with one INSERT into the
outbox, and adds the batch to the job's counts, fenced by the run's ``attempt``: a stalled run
that another replica replaced finds its batch refused and rolled back (``RunFenced``).

The job is run by the service's ``<service>-ownership`` scheduled job (tessera_shared.jobs): one
replica at a time holds its lease and runs the queued jobs oldest first; a job it finds
``running`` was left by a replica that stopped, and runs again with the next attempt, carrying on
from the last committed batch (moved records no longer match ``from_user``). When every resource
is done, the job succeeds and the service's ``ownership.*_transferred`` event is published with the
counts, in the same transaction.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Table, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tessera_shared.auth import Principal, Role
from tessera_shared.db import new_id, unit_of_work, utcnow
from tessera_shared.errors import InvalidInput, NotFound
from tessera_shared.events.contracts.ownership import OwnershipTransferred
from tessera_shared.events.envelope import EventData
from tessera_shared.jobs import Job, ring_after_commit
from tessera_shared.outbox import outbox_row, publish, publish_many

log = logging.getLogger(__name__)

ACTIVE = ("queued", "running")
STATUSES = ("queued", "running", "succeeded", "failed")
# Who may move other people's records: managers (and admins, who always may).
TRANSFER_ROLES = (Role.SALES_MANAGER,)
BATCH_ROWS = 1000
# A queued transfer rings the job (tessera_shared.jobs): it starts once its request commits. The
# interval only finds a transfer a stopped replica left behind.
JOB_INTERVAL_SECONDS = 30.0
OWNERSHIP_DOORBELL = "ownership"


class RunFenced(Exception):
    """Another run took the job over (a later attempt): this one stops and writes nothing more."""


@dataclass(frozen=True, slots=True)
class Moved:
    """One batch's move, as the sources' event builders see it."""

    job_id: uuid.UUID
    from_user: str
    to_user: str
    by: str
    at: datetime


# The events of a batch's moved records: (data, subject) pairs, published with the batch.
EventsOf = Callable[[Sequence[Mapping[str, Any]], Moved], Sequence[tuple[EventData, Any]]]
# Further work of the service's own on the batch's rows, in the batch's transaction (a timeline line).
AfterBatch = Callable[[AsyncSession, Sequence[Mapping[str, Any]], Moved], Awaitable[None]]


@dataclass(frozen=True)
class TransferSource:
    """What moving one resource's records means in a service."""

    resource: str
    table: Table
    # The columns the events need, read back from the UPDATE (after the move).
    returning: tuple[str, ...]
    events: EventsOf
    # The column naming the record's owner (a ticket's assignee_id).
    owner: str = "owner_id"
    # "Open" records (only_open); None: every record is open (customers).
    open: Callable[[Table], ColumnElement[bool]] | None = None
    # Records that never move (a merged-away or erased customer).
    movable: Callable[[Table], ColumnElement[bool]] | None = None
    # Values set beside the owner (besides version + 1 and updated_at, where the table has them).
    touch: Callable[[datetime], Mapping[str, Any]] | None = None
    after: AfterBatch | None = None


@dataclass(frozen=True)
class Transfers:
    """A service's transfer setup: its job table, its sources (in the order they move) and the
    event class announcing a finished share."""

    table: Table
    sources: Sequence[TransferSource]
    announce: type[OwnershipTransferred]
    by_name: dict[str, TransferSource] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_name", {s.resource: s for s in self.sources})

    @property
    def resources(self) -> list[str]:
        return [s.resource for s in self.sources]


@dataclass(frozen=True)
class TransferRequest:
    from_user: str
    to_user: str
    resources: list[str] | None
    only_open: bool = True


def _check(transfers: Transfers, request: TransferRequest) -> list[str]:
    """The resources to move, in the service's order; a 422 naming each bad field."""
    if request.from_user == request.to_user:
        raise InvalidInput("to_user", "must differ from from_user")
    asked = transfers.resources if request.resources is None else request.resources
    if not asked:
        raise InvalidInput("resources", "name at least one resource (or leave it out for all)")
    unknown = [r for r in asked if r not in transfers.by_name]
    if unknown:
        raise InvalidInput(
            "resources", f"this service transfers {', '.join(transfers.resources)}, not {', '.join(unknown)}"
        )
    return [r for r in transfers.resources if r in asked]


async def create_transfer(
    session: AsyncSession, transfers: Transfers, request: TransferRequest, principal: Principal
) -> Mapping[str, Any]:
    resources = _check(transfers, request)
    row = {
        "id": new_id(),
        "from_user": request.from_user,
        "to_user": request.to_user,
        "resources": resources,
        "only_open": request.only_open,
        "requested_by": principal.subject,
        "status": "queued",
        "attempt": 0,
        "counts": {r: 0 for r in resources},
        "created_at": utcnow(),
    }
    await session.execute(insert(transfers.table).values(**row))
    ring_after_commit(session, OWNERSHIP_DOORBELL)  # the job runs it once this commits
    return await load_transfer(session, transfers, uuid.UUID(str(row["id"])))


async def load_transfer(session: AsyncSession, transfers: Transfers, job_id: uuid.UUID) -> Mapping[str, Any]:
    table = transfers.table
    job = (await session.execute(select(table).where(table.c.id == job_id))).mappings().first()
    if job is None:
        raise NotFound("ownership transfer", job_id)
    return dict(job)


async def list_transfers(
    session: AsyncSession, transfers: Transfers, *, limit: int, from_user: str | None = None
) -> list[Mapping[str, Any]]:
    """The newest jobs first (at most ``limit``), optionally of one leaving owner."""
    table = transfers.table
    stmt = select(table).order_by(table.c.created_at.desc(), table.c.id.desc()).limit(limit)
    if from_user is not None:
        stmt = stmt.where(table.c.from_user == from_user)
    return [dict(r) for r in (await session.execute(stmt)).mappings().all()]


# -- running ------------------------------------------------------------------------------------


async def run_transfers(
    sessions: async_sessionmaker[AsyncSession], transfers: Transfers, *, batch_rows: int = BATCH_ROWS
) -> int:
    """One round of the ownership job: every queued (or abandoned running) job, oldest first."""
    ran = 0
    table = transfers.table
    while True:
        async with sessions() as session:
            job_id = await session.scalar(
                select(table.c.id).where(table.c.status.in_(ACTIVE)).order_by(table.c.created_at, table.c.id).limit(1)
            )
        if job_id is None:
            return ran
        await run_transfer(sessions, transfers, job_id, batch_rows=batch_rows)
        ran += 1


async def run_transfer(
    sessions: async_sessionmaker[AsyncSession],
    transfers: Transfers,
    job_id: uuid.UUID,
    *,
    batch_rows: int = BATCH_ROWS,
) -> None:
    table = transfers.table
    async with unit_of_work(sessions) as session:
        claimed = (
            (
                await session.execute(
                    update(table)
                    .where(table.c.id == job_id, table.c.status.in_(ACTIVE))
                    .values(status="running", attempt=table.c.attempt + 1, started_at=utcnow())
                    .returning(*table.c)
                )
            )
            .mappings()
            .first()
        )
    if claimed is None:
        return
    job = dict(claimed)
    try:
        counts: dict[str, int] = {r: int(n) for r, n in dict(job["counts"]).items()}
        for resource in job["resources"]:
            source = transfers.by_name[resource]
            after: Any = None
            while True:
                async with unit_of_work(sessions) as session:
                    moved, after = await _move_batch(session, source, job, after, batch_rows)
                    if after is None:
                        break
                    counts[resource] = counts.get(resource, 0) + moved
                    await _fence(session, table, job, counts=dict(counts))
        async with unit_of_work(sessions) as session:
            now = utcnow()
            await _fence(session, table, job, counts=dict(counts), status="succeeded", finished_at=now)
            await publish(
                session,
                transfers.announce(
                    transfer_id=job["id"],
                    from_user=job["from_user"],
                    to_user=job["to_user"],
                    resources=list(job["resources"]),
                    only_open=job["only_open"],
                    counts=counts,
                    requested_by=job["requested_by"],
                    finished_at=now,
                ),
                subject=job["id"],
            )
    except RunFenced:
        log.warning("ownership transfer taken over by another run", extra={"transfer_id": str(job_id)})
    except Exception as exc:
        log.exception("ownership transfer failed", extra={"transfer_id": str(job_id)})
        async with unit_of_work(sessions) as session:
            await session.execute(
                update(table)
                .where(table.c.id == job_id, table.c.attempt == job["attempt"])
                .values(status="failed", error=f"{type(exc).__name__}: {exc}"[:500], finished_at=utcnow())
            )


async def _fence(session: AsyncSession, table: Table, job: Mapping[str, Any], **values: Any) -> None:
    """Write the job's progress, only while this run still holds the job (else ``RunFenced``)."""
    moved = await session.execute(
        update(table)
        .where(table.c.id == job["id"], table.c.attempt == job["attempt"], table.c.status == "running")
        .values(**values)
        .returning(table.c.id)
    )
    if moved.first() is None:
        raise RunFenced


async def _move_batch(
    session: AsyncSession, source: TransferSource, job: Mapping[str, Any], after: Any, batch_rows: int
) -> tuple[int, Any]:
    """Move the next batch of the resource's records after key ``after``: (records moved, the
    batch's last key), or (0, None) when none is left."""
    t = source.table
    key = t.c.id
    conditions: list[ColumnElement[bool]] = [t.c[source.owner] == job["from_user"]]
    if job["only_open"] and source.open is not None:
        conditions.append(source.open(t))
    if source.movable is not None:
        conditions.append(source.movable(t))
    stmt = select(key).where(*conditions).order_by(key).limit(batch_rows)
    if after is not None:
        stmt = stmt.where(key > after)
    ids = list((await session.scalars(stmt)).all())
    if not ids:
        return 0, None
    now = utcnow()
    values: dict[str, Any] = {source.owner: job["to_user"]}
    if "version" in t.c:
        values["version"] = t.c.version + 1
    if "updated_at" in t.c:
        values["updated_at"] = now
    if source.touch is not None:
        values.update(source.touch(now))
    # The owner (and openness) checked again: a record changed since the SELECT is left alone.
    result = await session.execute(
        update(t).where(key.in_(ids), *conditions).values(values).returning(*(t.c[c] for c in source.returning))
    )
    rows: list[Mapping[str, Any]] = [dict(r) for r in result.mappings().all()]
    moved = Moved(job["id"], job["from_user"], job["to_user"], job["requested_by"], now)
    await publish_many(
        session, [outbox_row(data, subject=subject, now=now) for data, subject in source.events(rows, moved)]
    )
    if source.after is not None and rows:
        await source.after(session, rows, moved)
    return len(rows), ids[-1]


def ownership_job(service: str, transfers: Transfers, *, interval: float = JOB_INTERVAL_SECONDS) -> Job:
    """The ``<service>-ownership`` scheduled job (one replica at a time, under its lease)."""

    async def run(sessions: async_sessionmaker[AsyncSession], now: datetime) -> object:
        return await run_transfers(sessions, transfers)

    return Job(f"{service}-ownership", interval, run, doorbell=OWNERSHIP_DOORBELL)
