"""Scheduled jobs: periodic work (overdue detection, SLA breaches, reminders, churn windows).

Each job is an async function of ``(sessions, now)`` that must be safe to run again for the
same ``now`` (detect-once is the job's own rule, e.g. a flag or a unique row). It runs every
``interval`` seconds in each replica, but on PostgreSQL only one replica at a time holds the
job's advisory lock; the others skip that round. The same function is what an ``as_of``
endpoint calls on demand, so tests drive it with any clock.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tessera_shared.db import dialect_name
from tessera_shared.tasks import finish_or_cancel

log = logging.getLogger(__name__)

JobFn = Callable[[async_sessionmaker[AsyncSession], datetime], Awaitable[object]]


@dataclass(frozen=True)
class Job:
    name: str
    interval: float
    run: JobFn


def _lock_id(name: str) -> int:
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


async def run_job_once(job: Job, sessions: async_sessionmaker[AsyncSession], now: datetime | None = None) -> bool:
    """Run ``job`` now unless another replica is running it; True when it ran."""
    now = now or datetime.now(UTC)
    async with sessions() as lock_session:
        if dialect_name(lock_session) == "postgresql":
            got = await lock_session.scalar(text("SELECT pg_try_advisory_lock(:id)"), {"id": _lock_id(job.name)})
            if not got:
                return False
        try:
            await job.run(sessions, now)
        finally:
            if dialect_name(lock_session) == "postgresql":
                await lock_session.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": _lock_id(job.name)})
                await lock_session.commit()
    return True


class JobScheduler:
    def __init__(self, jobs: list[Job], sessions: async_sessionmaker[AsyncSession]) -> None:
        self._jobs = jobs
        self._sessions = sessions
        self._stopping = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._loop(job), name=f"job-{job.name}") for job in self._jobs]

    async def stop(self, timeout: float = 10.0) -> None:
        self._stopping.set()
        for task in self._tasks:
            await finish_or_cancel(task, timeout)

    async def _loop(self, job: Job) -> None:
        # Spread first runs so replicas and jobs do not all fire together.
        delay = job.interval * random.random()  # noqa: S311 - jitter, not a secret
        while not self._stopping.is_set():
            try:
                await asyncio.wait_for(self._stopping.wait(), delay)
                return
            except TimeoutError:
                pass
            try:
                await run_job_once(job, self._sessions)
            except Exception:
                log.exception("scheduled job failed", extra={"job": job.name})
            delay = job.interval
