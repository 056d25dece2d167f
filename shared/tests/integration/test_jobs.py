"""Scheduled jobs run on demand with any clock, and one replica at a time on PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from sqlalchemy import insert, select

from tessera_shared.jobs import Job, run_job_once

from .conftest import effects

# Dialect branches: these run on both databases.
pytestmark = pytest.mark.sqlite


async def test_job_runs_with_the_given_clock(sessions) -> None:
    async def mark(s, now):
        async with s() as session, session.begin():
            await session.execute(insert(effects).values(ping_no=now.year, label="job"))

    assert await run_job_once(Job("mark", 60, mark), sessions, datetime(2031, 5, 1, tzinfo=UTC))
    async with sessions() as s:
        assert list((await s.execute(select(effects.c.ping_no))).scalars()) == [2031]


async def test_only_one_replica_runs_a_job_at_a_time(sessions, backend) -> None:
    running = asyncio.Event()
    release = asyncio.Event()

    async def slow(s, now):
        running.set()
        await release.wait()

    job = Job("slow", 60, slow)
    first = asyncio.create_task(run_job_once(job, sessions))
    await running.wait()
    if backend == "postgres":
        assert await run_job_once(job, sessions) is False  # the other replica skips this round
    release.set()
    assert await first is True
