"""A job that works off a queue runs a round as soon as a transaction that queued work commits
(its doorbell), not at its next interval; a rolled-back ring, or another job's doorbell, runs
nothing; an idle replica runs it only at its interval (tessera_shared.jobs)."""

from __future__ import annotations

import asyncio
import time

import pytest
from sqlalchemy import text

from tessera_shared.db import unit_of_work
from tessera_shared.jobs import Job, JobScheduler, attach_doorbells, ring_after_commit
from tessera_shared.testing.waiting import eventually


async def _until(predicate, seconds: float) -> float:
    """How long until ``predicate()`` held (polled every 20 ms; fails after ``seconds``)."""
    started = time.monotonic()

    async def probe() -> bool:
        return bool(predicate())

    await eventually(probe, seconds=seconds, every=0.02)
    return time.monotonic() - started


@pytest.mark.sqlite
async def test_a_commit_that_queued_work_rings_its_job_at_once(sessions) -> None:
    rounds: list[str] = []

    def job(name: str) -> Job:
        async def run(s, now):
            rounds.append(name)

        return Job(name, 3600, run, doorbell=name)

    scheduler = JobScheduler([job("exports"), job("transfers")], sessions, start_spread=0)
    attach_doorbells(sessions, scheduler.ring)
    scheduler.start()
    try:
        await _until(lambda: len(rounds) == 2, 10)
        await asyncio.sleep(0.3)
        assert sorted(rounds) == ["exports", "transfers"]  # hourly: nothing more on its own

        # Rung in a transaction that rolls back: nothing was queued, nothing runs.
        with pytest.raises(RuntimeError):
            async with unit_of_work(sessions) as s:
                await s.execute(text("SELECT 1"))
                ring_after_commit(s, "exports")
                raise RuntimeError("the request failed")
        await asyncio.sleep(0.5)
        assert len(rounds) == 2

        # Rung in one that commits: that job's round runs at once, the other job's does not.
        async with unit_of_work(sessions) as s:
            await s.execute(text("SELECT 1"))
            ring_after_commit(s, "exports")
            ring_after_commit(s, "exports")  # rung twice in one transaction: one round
        took = await _until(lambda: len(rounds) == 3, 5)
        await asyncio.sleep(0.5)
        print(f"\nrung job ran {took * 1000:.0f} ms after the commit (interval 3600 s)")
        assert rounds[2:] == ["exports"]
    finally:
        await scheduler.stop()
    assert scheduler.rounds == {"exports": 2, "transfers": 1}


@pytest.mark.sqlite
async def test_a_ring_while_another_replica_holds_the_lease_is_owed_until_a_round_runs(sessions, other_replica) -> None:
    rounds: list[str] = []
    gate = asyncio.Event()

    def on(replica: str) -> Job:
        async def run(s, now):
            rounds.append(replica)
            if len(rounds) == 1:
                await gate.wait()  # the first round is long: its replica holds the lease

        return Job("q", 3600, run, doorbell="q")

    a = JobScheduler([on("a")], sessions, start_spread=0, lease_ttl=2.0, lease_renew=0.5)
    b = JobScheduler([on("b")], other_replica, start_spread=0, lease_ttl=2.0, lease_renew=0.5)
    a.start()
    try:
        await _until(lambda: rounds == ["a"], 10)
        b.start()
        await asyncio.sleep(0.3)
        b.ring("q")  # work queued on b while a holds the lease
        await asyncio.sleep(0.5)
        assert rounds == ["a"]
        gate.set()
        took = await _until(lambda: len(rounds) == 2, 6)
        print(f"\nowed round ran {took:.2f} s after the holder finished (interval 3600 s)")
        assert rounds == ["a", "b"]
    finally:
        await b.stop()
        await a.stop()
