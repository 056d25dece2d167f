"""Scheduled jobs: periodic work (overdue detection, SLA breaches, reminders, churn windows).

Each job is an async function of ``(sessions, now)`` that must be safe to run again for the
same ``now`` (detect-once is the job's own rule, e.g. a flag or a unique row). Every replica
runs a scheduler, but a round runs in one replica at a time: the one holding the job's lease
(``job:<name>`` in the ``leases`` table, tessera_shared.leases), renewed every second while the
job runs. A holder that stops renewing (frozen, hung, cut off) is replaced within the lease's
ttl, and its job task is cancelled when it wakes up and finds the lease gone. The database
records when a round was last done, so the replicas together run about one round per
``interval``; a failed round is tried again after 5 s, 10 s, ... (capped well below the
interval) instead of a whole interval later, and a round that lost a race to another
transaction (deadlock, serialization failure) runs again at once (tessera_shared.db.retry).
The same function is what an ``as_of`` endpoint calls on demand, so tests drive it with any
clock.

A job that works off a queue (bulk exports, ownership transfers, e-mails) names a ``doorbell``:
the transaction that queues work calls ``ring_after_commit(session, doorbell)``, and once it
commits the replica's scheduler runs a round of that job at once, due or not (a replica holding
the lease for a round already finds the new row: the queue jobs run until nothing is queued).
Their ``interval`` is then only the fallback that finds work a stopped replica left behind, so an
idle replica does not poll the queue every second or two.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session

from tessera_shared.db.commit_hooks import after_commit
from tessera_shared.db.retry import retry_lost_races
from tessera_shared.leases import Lease, LeaseLost
from tessera_shared.tasks import finish_or_cancel

log = logging.getLogger(__name__)

JobFn = Callable[[async_sessionmaker[AsyncSession], datetime], Awaitable[object]]


@dataclass(frozen=True)
class Job:
    name: str
    interval: float
    run: JobFn
    doorbell: str | None = None  # rung after a commit that queued work: a round runs at once


_RINGER_KEY = "tessera.jobs.ringer"  # the session factory's scheduler (``attach_doorbells``)


def attach_doorbells(factory: async_sessionmaker[AsyncSession], ring: Callable[[str], None]) -> None:
    """Have sessions of ``factory`` ring ``ring(doorbell)`` right after a commit that queued work."""
    factory.kw.setdefault("info", {})[_RINGER_KEY] = ring


def ring_after_commit(session: AsyncSession | Session, doorbell: str) -> None:
    """Once ``session``'s transaction commits, run a round of the jobs answering ``doorbell``."""
    after_commit(session, (_RINGER_KEY, doorbell), functools.partial(_ring, doorbell))


def _ring(doorbell: str, session: Session) -> None:
    ring = session.info.get(_RINGER_KEY)
    if ring is not None:
        ring(doorbell)


def lease_name(job: str) -> str:
    return f"job:{job}"


async def run_job_once(
    job: Job,
    sessions: async_sessionmaker[AsyncSession],
    now: datetime | None = None,
    *,
    lease: Lease | None = None,
) -> bool:
    """Run ``job`` now unless another replica is running it (holds its lease); True when it ran.

    The lease is renewed while the job runs; if another replica took it over meanwhile (this
    one was frozen past the lease's ttl), the job is cancelled and ``LeaseLost`` raised. A round
    that ran to the end is recorded done (fenced: a replaced holder records nothing)."""
    now = now or datetime.now(UTC)
    lease = lease or Lease(sessions, lease_name(job.name))
    token = await lease.acquire()
    if token is None:
        return False
    done = False
    try:
        await _run_holding(job, sessions, now, lease, token)
        done = True
    finally:
        try:
            await lease.release(done=done)
        except Exception:  # the lease expires by itself
            log.warning("could not release a job's lease", extra={"job": job.name}, exc_info=True)
    return True


async def _run_holding(
    job: Job, sessions: async_sessionmaker[AsyncSession], now: datetime, lease: Lease, token: int
) -> None:
    # A round that lost a race (deadlock, serialization failure) runs again at once: jobs are
    # idempotent for a given ``now``.
    work: asyncio.Future[object] = asyncio.ensure_future(
        retry_lost_races(lambda: job.run(sessions, now), attempts=3, what=f"job {job.name}")
    )
    try:
        while True:
            done, _ = await asyncio.wait({work}, timeout=lease.renew_every)
            if done:
                work.result()
                return
            try:
                renewed = await lease.acquire()
            except Exception:  # a database blip: go on while the lease is still ours
                log.warning("could not renew a job's lease", extra={"job": job.name}, exc_info=True)
                renewed = token if lease.valid() else None
            if renewed != token:
                raise LeaseLost(lease.name)
    finally:
        if not work.done():
            work.cancel()
            with contextlib.suppress(BaseException):
                await work


class JobScheduler:
    def __init__(
        self,
        jobs: list[Job],
        sessions: async_sessionmaker[AsyncSession],
        *,
        lease_ttl: float = 5.0,
        lease_renew: float = 1.0,
        retry_backoff: float = 5.0,
        start_spread: float | None = None,
    ) -> None:
        self._jobs = jobs
        self._sessions = sessions
        self._lease_ttl = lease_ttl
        self._lease_renew = lease_renew
        self._retry_backoff = retry_backoff
        # First checks are spread over this many seconds (default: each job's interval).
        self._start_spread = start_spread
        self._stopping = asyncio.Event()
        # Each job's alarm: set by a ring of its doorbell and by ``stop``.
        self._alarms = {job.name: asyncio.Event() for job in jobs}
        self._tasks: list[asyncio.Task[None]] = []
        self.rounds: dict[str, int] = {}  # rounds run here, by job
        self.failures: dict[str, int] = {}  # rounds failed here, by job

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._loop(job), name=f"job-{job.name}") for job in self._jobs]

    def ring(self, doorbell: str) -> None:
        """Run a round of every job answering ``doorbell`` now (work was queued)."""
        for job in self._jobs:
            if job.doorbell == doorbell:
                self._alarms[job.name].set()

    async def stop(self, timeout: float = 10.0) -> None:
        self._stopping.set()
        for alarm in self._alarms.values():
            alarm.set()
        for task in self._tasks:
            await finish_or_cancel(task, timeout)

    def _retry_delay(self, job: Job, failures: int) -> float:
        """5 s, 10 s, 20 s, ... capped at a quarter of the interval (at most 5 minutes)."""
        cap = max(self._retry_backoff, min(job.interval / 4, 300.0))
        return float(min(self._retry_backoff * 2.0 ** (failures - 1), cap))

    async def _loop(self, job: Job) -> None:
        lease = Lease(self._sessions, lease_name(job.name), ttl=self._lease_ttl, renew_every=self._lease_renew)
        # Spread first checks so replicas and jobs do not all fire together.
        spread = job.interval if self._start_spread is None else self._start_spread
        delay = spread * random.random()  # noqa: S311 - jitter, not a secret
        failures = 0
        alarm = self._alarms[job.name]
        owed = False  # rung, and no round has run since
        while not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(alarm.wait(), delay)
            if self._stopping.is_set():
                return
            owed = owed or alarm.is_set()
            alarm.clear()
            try:
                delay, ran = await self._round(job, lease, due=owed)
                owed = owed and not ran
                failures = 0
            except LeaseLost:
                log.warning("scheduled job replaced by another replica", extra={"job": job.name})
                delay = self._lease_ttl
            except Exception:
                failures += 1
                self.failures[job.name] = self.failures.get(job.name, 0) + 1
                delay = self._retry_delay(job, failures)
                log.exception("scheduled job failed", extra={"job": job.name, "retry_in": delay})

    async def _round(self, job: Job, lease: Lease, *, due: bool = False) -> tuple[float, bool]:
        """Run the round if it is due (or ``due``: rung) and no other replica runs it; the delay to
        the next check and whether it ran."""
        if await lease.acquire() is None:
            # Another replica runs it: look again once its lease could have expired (a frozen
            # holder is replaced); by then a finished round is recorded done.
            return self._lease_ttl * (1 + random.random() / 2), False  # noqa: S311 - jitter
        since = await lease.since_done()  # read while holding: no other replica finishes one now
        if not due and since is not None and since < job.interval:
            await lease.release()
            return job.interval - since, False
        if not await run_job_once(job, self._sessions, lease=lease):
            return self._lease_ttl * (1 + random.random() / 2), False  # noqa: S311 - jitter
        self.rounds[job.name] = self.rounds.get(job.name, 0) + 1
        return job.interval, True
