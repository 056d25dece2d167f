"""Leadership with a lease and fencing: a frozen relay or job holder is replaced within seconds,
its late writes are refused; PostgreSQL sessions carry their limits (issue 20, item 2)."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest
from sqlalchemy import insert, select, text, update
from sqlalchemy.ext.asyncio import create_async_engine

from tessera_shared.db import SessionLimits, create_engine, session_factory, unit_of_work
from tessera_shared.events import parse_envelope
from tessera_shared.infra_tables import leases, outbox
from tessera_shared.jobs import Job, JobScheduler, lease_name, run_job_once
from tessera_shared.kafka import make_producer
from tessera_shared.leases import Lease, LeaseLost
from tessera_shared.outbox import RELAY_LEASE, OutboxRelay, outbox_row, publish_many
from tessera_shared.settings import ServiceSettings
from tessera_shared.testing.kafka import read_topic

from .conftest import Ping, effects, url_of


def relay_for(sessions, bootstrap: str, namespace: str, **kw) -> OutboxRelay:
    return OutboxRelay(
        service="customer",
        sessions=sessions,
        namespace=namespace,
        producer_factory=lambda: make_producer(bootstrap, client_id="test-relay"),
        **kw,
    )


async def publish_pings(sessions, numbers: range, keys: list[uuid.UUID]) -> None:
    async with unit_of_work(sessions) as s:
        await publish_many(s, [outbox_row(Ping(ping_no=n), subject=keys[n % len(keys)]) for n in numbers])


async def unsent(sessions) -> int:
    async with sessions() as s:
        return len((await s.execute(select(outbox.c.seq).where(outbox.c.sent_at.is_(None)))).all())


@pytest.mark.sqlite
async def test_an_expired_lease_passes_to_another_holder_whose_token_fences_the_first(sessions) -> None:
    first = Lease(sessions, "work", ttl=1.5, renew_every=0.5)
    second = Lease(sessions, "work", ttl=1.5, renew_every=0.5)
    assert await first.acquire() == 1
    assert await second.acquire() is None  # held
    assert await first.acquire() == 1  # renewing keeps the token
    await asyncio.sleep(1.6)  # first stopped renewing: expired
    assert await second.acquire() == 2  # taken over: the next token
    assert await first.acquire() is None
    async with unit_of_work(sessions) as s:  # a write fenced by the first's token is refused
        refused = await s.execute(update(leases).where(leases.c.name == "work", first.fence(1)).values(done_at=None))
        allowed = await s.execute(update(leases).where(leases.c.name == "work", second.fence()).values(done_at=None))
    assert (refused.rowcount, allowed.rowcount) == (0, 1)  # type: ignore[attr-defined]
    await second.release()
    assert await first.acquire() == 3  # released: free at once


async def test_a_frozen_relay_holder_is_replaced_within_seconds_and_cannot_mark(
    sessions, other_replica, kafka_bootstrap, topics
) -> None:
    keys = [uuid.uuid4() for _ in range(7)]
    frozen, resume = asyncio.Event(), asyncio.Event()

    async def freeze() -> None:  # the holder stops dead after an acknowledgement, as under SIGSTOP
        frozen.set()
        await resume.wait()

    holder = relay_for(sessions, kafka_bootstrap, topics)
    standby = relay_for(other_replica, kafka_bootstrap, topics)
    holder.pause_after_ack = freeze
    await publish_pings(sessions, range(10), keys)
    holder.start()
    try:
        await asyncio.wait_for(frozen.wait(), 10)  # holds the lease, its first batch acknowledged
        standby.start()
        await publish_pings(sessions, range(10, 102), keys)  # the 92 events
        started = time.monotonic()
        assert await standby.oldest_unsent_age() >= 0
        while await unsent(sessions):
            assert time.monotonic() - started < 15, "the standby did not take over"
            await asyncio.sleep(0.1)
        stall = time.monotonic() - started
        print(f"\npublish stall with a frozen relay holder: {stall:.1f} s (lease ttl 5 s)")
        assert stall < 10
        assert standby.published == 102 and holder.published == 0
        assert await standby.oldest_unsent_age() == 0
        resume.set()  # the old holder wakes up: its mark is refused, it stops
        deadline = time.monotonic() + 10
        while holder.fenced == 0:
            assert time.monotonic() < deadline, "the woken holder was not fenced"
            await asyncio.sleep(0.05)
        assert holder.published == 0 and holder.lease.token is None
        assert standby.lease.valid()
        await publish_pings(sessions, range(102, 110), keys)  # and the standby goes on
        while await unsent(sessions):
            assert time.monotonic() < deadline
            await asyncio.sleep(0.1)
        assert holder.published == 0
    finally:
        resume.set()
        await holder.stop()
        await standby.stop()
    records = await read_topic(kafka_bootstrap, f"{topics}crm.customer")  # to the end: copies too
    numbers = [parse_envelope(r.value).data["ping_no"] for r in records]
    assert set(numbers) == set(range(110))  # nothing lost
    print(f"copies: {len(numbers) - 110} (the frozen holder's batch in flight)")
    assert len(numbers) - 110 <= 10
    for key in keys:  # first copies in each key's order
        mine = [parse_envelope(r.value).data["ping_no"] for r in records if r.key == str(key).encode()]
        assert list(dict.fromkeys(mine)) == sorted(set(mine))


async def test_a_holder_waiting_on_the_broker_keeps_the_lease_and_nothing_is_sent_twice(
    sessions, other_replica, kafka_bootstrap, topics
) -> None:
    """A broker outage or a slow acknowledgement longer than the lease's ttl: the holder is alive
    and its batches are in flight, so it keeps renewing; the standby does not take over and send
    them again (before: the lease lapsed after 5 s and the standby re-sent the holder's window)."""
    keys = [uuid.uuid4() for _ in range(5)]
    # A ttl of 10 s: with 3 s and with the services' 5 s the holder's renewals stalled past the
    # ttl while the whole suite loaded the machine (CI, 2 of 2 runs; alone it passes), and the
    # standby took over. What this test checks is that a holder awaiting acknowledgements for
    # more than two ttls keeps renewing; the stall under load is noted in the closing note.
    holder = relay_for(sessions, kafka_bootstrap, topics, lease_ttl=10.0, lease_renew=0.5)
    standby = relay_for(other_replica, kafka_bootstrap, topics, lease_ttl=10.0, lease_renew=0.5)
    real_send = holder._send_batch
    slow = {"on": True}

    async def slow_ack(producer, batch, tp):  # the broker acknowledges 21 s late (over 2 ttls)
        ack = await real_send(producer, batch, tp)
        if not slow["on"]:
            return ack
        late: asyncio.Future = asyncio.get_running_loop().create_future()

        async def later() -> None:
            await asyncio.sleep(21)
            late.set_result(await ack)

        asyncio.get_running_loop().create_task(later())
        return late

    holder._send_batch = slow_ack  # type: ignore[method-assign]
    await publish_pings(sessions, range(40), keys)
    holder.start()
    try:
        started = time.monotonic()
        while holder._awaiting_acks_since is None:  # it holds the lease, its batches are in flight
            assert time.monotonic() - started < 20, "the holder did not start sending"
            await asyncio.sleep(0.05)
        standby.start()
        while await unsent(sessions):
            assert time.monotonic() - started < 60, "the events were not published"
            await asyncio.sleep(0.1)
        assert holder.published == 40 and standby.published == 0
        assert holder.fenced == 0 and standby.lease.token is None
    finally:
        slow["on"] = False
        await holder.stop()
        await standby.stop()
    records = await read_topic(kafka_bootstrap, f"{topics}crm.customer")
    numbers = [parse_envelope(r.value).data["ping_no"] for r in records]
    assert sorted(numbers) == list(range(40))  # none lost, none sent twice


async def test_cut_connections_resend_at_most_the_batch_in_flight(sessions, kafka_bootstrap, topics) -> None:
    """The relay's database connections are cut (terminated) again and again while it publishes:
    after each cut it marks what the broker acknowledged, so only the batch in flight is re-sent."""
    relay_engine = create_async_engine(
        url_of(sessions), connect_args={"server_settings": {"application_name": "cut-relay"}}
    )
    keys = [uuid.uuid4() for _ in range(20)]
    total, batch = 3000, 50
    await publish_pings(sessions, range(total), keys)
    relay = relay_for(session_factory(relay_engine), kafka_bootstrap, topics, batch_size=batch)
    cuts = 0
    relay.start()
    try:
        started = time.monotonic()
        async with sessions() as s:
            while await unsent(sessions):
                assert time.monotonic() - started < 60
                await asyncio.sleep(0.2)
                if cuts < 10:
                    killed = await s.scalar(
                        text(
                            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                            " WHERE application_name = 'cut-relay'"
                        )
                    )
                    await s.commit()
                    cuts += bool(killed)
    finally:
        await relay.stop()
        await relay_engine.dispose()
    records = await read_topic(kafka_bootstrap, f"{topics}crm.customer")  # to the end: copies too
    numbers = [parse_envelope(r.value).data["ping_no"] for r in records]
    copies = len(numbers) - total
    print(f"\n{cuts} cuts, {copies} copies of {total} events (batch {batch})")
    assert set(numbers) == set(range(total))
    assert cuts >= 3
    assert copies <= cuts * batch


@pytest.mark.sqlite
async def test_a_frozen_job_holder_is_replaced_within_the_ttl(sessions, other_replica) -> None:
    ttl = 2.0
    started, cancelled, resume = asyncio.Event(), asyncio.Event(), asyncio.Event()

    async def stuck(s, now):
        started.set()
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    async def quick(s, now):
        async with s() as session, session.begin():
            await session.execute(insert(effects).values(ping_no=1, label="replacement"))

    frozen = Lease(sessions, lease_name("sweep"), ttl=ttl, renew_every=0.5)
    real_acquire = frozen.acquire
    calls = 0

    async def acquire_then_freeze() -> int | None:
        nonlocal calls
        calls += 1
        if calls > 1:  # renewals stop dead, as when the process is frozen
            await resume.wait()
        return await real_acquire()

    frozen.acquire = acquire_then_freeze  # type: ignore[method-assign]
    first = asyncio.create_task(run_job_once(Job("sweep", 60, stuck), sessions, lease=frozen))
    await started.wait()
    t0 = time.monotonic()
    replacement = Lease(other_replica, lease_name("sweep"), ttl=ttl, renew_every=0.5)
    while not await run_job_once(Job("sweep", 60, quick), other_replica, lease=replacement):
        assert time.monotonic() - t0 < ttl + 3
        await asyncio.sleep(0.1)
    replaced = time.monotonic() - t0
    print(f"\nfrozen job holder replaced after {replaced:.1f} s (ttl {ttl} s)")
    assert replaced < ttl + 1.5
    resume.set()  # the frozen holder wakes up: its lease is gone, its round is cancelled
    with pytest.raises(LeaseLost):
        await first
    assert cancelled.is_set()
    async with sessions() as s:
        assert list((await s.execute(select(effects.c.label))).scalars()) == ["replacement"]
        done_at = await s.scalar(select(leases.c.done_at).where(leases.c.name == lease_name("sweep")))
    assert done_at is not None  # recorded by the replacement (the frozen one's release is fenced)


@pytest.mark.sqlite
async def test_a_failed_round_is_retried_within_seconds(sessions) -> None:
    calls: list[float] = []

    async def flaky(s, now):
        calls.append(time.monotonic())
        if len(calls) == 1:
            raise RuntimeError("the database went away for a moment")

    scheduler = JobScheduler([Job("flaky", 3600, flaky)], sessions, start_spread=0, retry_backoff=2.0)
    scheduler.start()
    try:
        deadline = time.monotonic() + 10
        while len(calls) < 2:
            assert time.monotonic() < deadline, "the failed round was not tried again"
            await asyncio.sleep(0.05)
        await asyncio.sleep(1.0)
    finally:
        await scheduler.stop()
    retried_after = calls[1] - calls[0]
    print(f"\na failed round retried after {retried_after:.1f} s (backoff 2 s, interval 3600 s)")
    assert 1.9 < retried_after < 4
    assert len(calls) == 2 and scheduler.rounds == {"flaky": 1} and scheduler.failures == {"flaky": 1}


@pytest.mark.sqlite
async def test_replicas_run_one_round_per_interval_between_them(sessions, other_replica) -> None:
    calls = 0

    async def hourly(s, now):
        nonlocal calls
        calls += 1

    schedulers = [
        JobScheduler([Job("hourly", 3600, hourly)], each, start_spread=0) for each in (sessions, other_replica)
    ]
    for scheduler in schedulers:
        scheduler.start()
    try:
        await asyncio.sleep(3.0)
    finally:
        for scheduler in schedulers:
            await scheduler.stop()
    assert calls == 1  # not one per replica (each replica's advisory lock let each run its own)


async def test_sessions_carry_their_timeouts_and_keepalives(sessions) -> None:
    settings = ServiceSettings(database_url=url_of(sessions), database_statement_timeout=12, database_keepalives_idle=7)
    engine = create_engine(settings.database_url, limits=settings.session_limits)
    try:
        async with engine.connect() as conn:
            shown = {
                name: await conn.scalar(text(f"SHOW {name}"))
                for name in (
                    "statement_timeout",
                    "idle_in_transaction_session_timeout",
                    "tcp_keepalives_idle",
                    "tcp_keepalives_interval",
                    "tcp_keepalives_count",
                )
            }
    finally:
        await engine.dispose()
    assert shown == {
        "statement_timeout": "12s",
        "idle_in_transaction_session_timeout": "1min",
        "tcp_keepalives_idle": "7",
        "tcp_keepalives_interval": "5",
        "tcp_keepalives_count": "3",
    }
    assert SessionLimits().server_settings()["statement_timeout"] == "30000"


async def test_the_relay_lease_is_released_on_stop(sessions, other_replica, kafka_bootstrap, topics) -> None:
    first = relay_for(sessions, kafka_bootstrap, topics)
    await first.relay_once()
    assert first.lease.token is not None
    await first.stop()
    second = relay_for(other_replica, kafka_bootstrap, topics)
    try:
        assert await second.lease.acquire() is not None  # at once, not after the ttl
    finally:
        await second.stop()
    async with sessions() as s:
        assert await s.scalar(select(leases.c.name).where(leases.c.name == RELAY_LEASE)) == RELAY_LEASE


def test_failed_rounds_back_off_well_below_the_interval(sessions) -> None:
    scheduler = JobScheduler([], sessions)
    hourly, minutely = (
        Job("hourly", 3600, run=lambda s, now: asyncio.sleep(0)),
        Job("m", 60, lambda s, n: asyncio.sleep(0)),
    )
    assert [scheduler._retry_delay(hourly, n) for n in range(1, 9)] == [5, 10, 20, 40, 80, 160, 300, 300]
    assert [scheduler._retry_delay(minutely, n) for n in range(1, 4)] == [5, 10, 15]


class _Deadlock(Exception):
    sqlstate = "40P01"


@pytest.mark.sqlite
async def test_a_round_that_lost_a_race_runs_again_at_once(sessions) -> None:
    calls = 0

    async def racy(s, now):
        nonlocal calls
        calls += 1
        if calls == 1:
            raise _Deadlock("deadlock detected")

    assert await run_job_once(Job("racy", 3600, racy), sessions) is True
    assert calls == 2
    async with sessions() as s:  # recorded done: the next due check waits an interval
        assert await s.scalar(select(leases.c.done_at).where(leases.c.name == lease_name("racy"))) is not None


@pytest.mark.sqlite
async def test_a_standby_woken_often_asks_for_the_lease_at_most_twice_a_second(sessions, other_replica) -> None:
    holder = Lease(sessions, "busy", ttl=5, renew_every=1)
    standby = Lease(other_replica, "busy", ttl=5, renew_every=1)
    assert await holder.acquire() == 1
    asked = 0
    real_acquire = standby.acquire

    async def counted() -> int | None:
        nonlocal asked
        asked += 1
        return await real_acquire()

    standby.acquire = counted  # type: ignore[method-assign]
    t0 = time.monotonic()
    while time.monotonic() - t0 < 1.2:  # as a relay woken by every commit of its replica
        assert await standby.keep() is None
        await asyncio.sleep(0.01)
    assert 2 <= asked <= 4
