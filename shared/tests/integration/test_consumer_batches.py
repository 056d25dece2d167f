"""The consumer applies a poll's records in one transaction, and after a failure in rounds with a
savepoint per record (real Kafka)."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter

from prometheus_client import REGISTRY
from sqlalchemy import insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tessera_shared.consumer import Batched, ConsumerRunner, Handler, PermanentError
from tessera_shared.events import CloudEvent
from tessera_shared.kafka import make_consumer, make_producer
from tessera_shared.testing.kafka import read_topic

from .conftest import Ping, effects
from .test_consumer_runner import ping_bytes, produce, wait_until


def failing_on(ping_no: int, *, times: int, error: type[Exception] = RuntimeError) -> tuple[Handler, Counter[int]]:
    """A handler that writes its effect, then fails for ``ping_no`` the first ``times`` times."""
    calls: Counter[int] = Counter()

    async def handle(session: AsyncSession, event: CloudEvent, data: Ping) -> None:
        calls[data.ping_no] += 1
        await session.execute(insert(effects).values(ping_no=data.ping_no, label=data.label))
        if data.ping_no == ping_no and calls[ping_no] <= times:
            raise error(f"cannot apply ping {ping_no} yet")

    return handle, calls


def runner_with(
    handler: Handler, sessions: async_sessionmaker[AsyncSession], bootstrap: str, ns: str
) -> ConsumerRunner:
    group = f"g-{uuid.uuid4().hex[:8]}"
    return ConsumerRunner(
        service="billing",
        sessions=sessions,
        handlers={Ping.event_type: handler},
        consumer_factory=lambda: make_consumer(
            bootstrap, group_id=group, client_id="test", topics=[f"{ns}crm.customer"]
        ),
        producer_factory=lambda: make_producer(bootstrap, client_id="test-dlq"),
        dlq_topic=f"{ns}crm.billing.dlq",
        group_id=group,
        max_attempts=3,
        retry_backoff=0.01,
    )


async def applied_in_order(sessions: async_sessionmaker[AsyncSession]) -> list[int]:
    async with sessions() as s:
        return list((await s.execute(select(effects.c.ping_no).order_by(effects.c.id))).scalars())


async def run_until(runner: ConsumerRunner, predicate) -> None:
    runner.start()
    try:
        await wait_until(lambda: asyncio.sleep(0, predicate()))
    finally:
        await runner.stop()


async def test_a_record_that_is_retried_is_not_overtaken_and_the_others_apply_once(
    sessions, kafka_bootstrap, topics
) -> None:
    key = uuid.uuid4()  # one key: one partition, one poll
    await produce(kafka_bootstrap, f"{topics}crm.customer", [ping_bytes(n, key) for n in range(1, 7)])
    handler, calls = failing_on(3, times=2)
    runner = runner_with(handler, sessions, kafka_bootstrap, topics)
    await run_until(runner, lambda: runner.applied == 6)
    # 3's first failure rolled back the poll's transaction; the careful round after it committed
    # 1 and 2 (their second run) and rolled back 3's second attempt alone; 4-6 waited for 3.
    assert await applied_in_order(sessions) == [1, 2, 3, 4, 5, 6]
    assert calls == {1: 2, 2: 2, 3: 3, 4: 1, 5: 1, 6: 1}
    assert (runner.duplicates, runner.dead_lettered) == (0, 0)


async def test_a_poisoned_record_mid_poll_is_parked_and_the_rest_apply_once_in_order(
    sessions, kafka_bootstrap, topics
) -> None:
    key = uuid.uuid4()
    await produce(kafka_bootstrap, f"{topics}crm.customer", [ping_bytes(n, key) for n in range(1, 7)])
    handler, calls = failing_on(3, times=99)
    runner = runner_with(handler, sessions, kafka_bootstrap, topics)
    await run_until(runner, lambda: runner.applied == 5 and runner.dead_lettered == 1)
    assert await applied_in_order(sessions) == [1, 2, 4, 5, 6]
    assert calls == {1: 2, 2: 2, 3: 3, 4: 1, 5: 1, 6: 1}  # 3's attempts: the poll's, then two careful
    (parked,) = await read_topic(kafka_bootstrap, f"{topics}crm.billing.dlq", expect=1)
    headers = dict(parked.headers)
    assert headers["dlq-attempts"] == b"3" and headers["dlq-origin-offset"] == b"2"
    assert b"cannot apply ping 3" in headers["dlq-error"]


async def test_a_connection_failure_mid_round_rolls_the_round_back_and_retries_it(
    sessions, kafka_bootstrap, topics
) -> None:
    key = uuid.uuid4()
    await produce(kafka_bootstrap, f"{topics}crm.customer", [ping_bytes(n, key) for n in range(1, 5)])
    handler, calls = failing_on(3, times=1, error=ConnectionError)
    runner = runner_with(handler, sessions, kafka_bootstrap, topics)
    await run_until(runner, lambda: runner.applied == 4)
    # Not the message's fault: no attempt counted, nothing parked, each effect once.
    assert await applied_in_order(sessions) == [1, 2, 3, 4]
    assert calls[3] == 2 and runner.dead_lettered == 0


async def test_a_poll_without_failures_needs_no_savepoints_and_few_transactions(
    sessions, kafka_bootstrap, topics
) -> None:
    key = uuid.uuid4()
    pings = [ping_bytes(n, key) for n in range(1, 101)]
    await produce(kafka_bootstrap, f"{topics}crm.customer", [*pings[:50], pings[9], *pings[50:], pings[60]])
    handler, calls = failing_on(0, times=0)
    runner = runner_with(handler, sessions, kafka_bootstrap, topics)
    await run_until(runner, lambda: runner.applied == 100 and runner.duplicates == 2)
    assert await applied_in_order(sessions) == list(range(1, 101))
    assert set(calls.values()) == {1}  # the repeated deliveries (in the same poll) ran nothing
    if sessions.kw["bind"].dialect.name == "postgresql":
        # Rows written by one transaction share its id (xmin); a savepoint's rows have their own:
        # savepoint rounds would give 100 ids, transactions of 32 records four.
        async with sessions() as s:
            transactions = await s.scalar(text("SELECT count(DISTINCT xmin::text) FROM effects"))
        assert transactions <= 5  # four, or five if the broker split the fetch


def transactions(kind: str) -> float:
    return REGISTRY.get_sample_value("tessera_consumer_transactions_total", {"service": "billing", "kind": kind}) or 0.0


def batched_recording(fail_first_with: int | None = None) -> tuple[Batched, list[list[int]]]:
    """A batched handler writing one effect per event; records each call's ping numbers. With
    ``fail_first_with`` its first call containing that ping fails after writing its effects."""
    calls: list[list[int]] = []

    async def apply(session: AsyncSession, events: list[tuple[CloudEvent, Ping]]) -> None:
        numbers = [data.ping_no for _, data in events]
        calls.append(numbers)
        await session.execute(insert(effects), [{"ping_no": n, "label": "batched"} for n in numbers])
        if fail_first_with in numbers and sum(fail_first_with in c for c in calls) == 1:
            raise RuntimeError("the run cannot be applied")

    return Batched(apply), calls


async def test_a_batched_handler_gets_the_polls_runs_of_its_type_at_once(sessions, kafka_bootstrap, topics) -> None:
    key = uuid.uuid4()
    pings = [ping_bytes(n, key) for n in range(1, 41)]
    await produce(kafka_bootstrap, f"{topics}crm.customer", [*pings, pings[3]])
    handler, calls = batched_recording()
    runner = runner_with(handler, sessions, kafka_bootstrap, topics)
    await run_until(runner, lambda: runner.applied == 40 and runner.duplicates == 1)
    assert await applied_in_order(sessions) == list(range(1, 41))
    assert [n for call in calls for n in call] == list(range(1, 41))  # each event once, in order
    assert len(calls) < 40 and max(map(len, calls)) > 32  # a run is not cut at ROUND_RECORDS


async def test_a_batched_handler_with_a_limit_gets_at_most_that_many_per_transaction(
    sessions, kafka_bootstrap, topics
) -> None:
    key = uuid.uuid4()
    await produce(kafka_bootstrap, f"{topics}crm.customer", [ping_bytes(n, key) for n in range(1, 41)])
    unlimited, calls = batched_recording()
    runner = runner_with(Batched(unlimited.apply, limit=8), sessions, kafka_bootstrap, topics)
    await run_until(runner, lambda: runner.applied == 40)
    assert await applied_in_order(sessions) == list(range(1, 41))
    assert [n for call in calls for n in call] == list(range(1, 41))  # each event once, in order
    assert max(map(len, calls)) == 8  # a poll's run is cut at the limit, the rest in the next ones
    if sessions.kw["bind"].dialect.name == "postgresql":
        async with sessions() as s:
            sizes = (await s.execute(text("SELECT count(*) FROM effects GROUP BY xmin::text"))).scalars().all()
        assert max(sizes) == 8  # and each cut is a transaction of its own


async def test_a_failing_run_is_applied_again_one_event_at_a_time(sessions, kafka_bootstrap, topics) -> None:
    key = uuid.uuid4()
    await produce(kafka_bootstrap, f"{topics}crm.customer", [ping_bytes(n, key) for n in range(1, 11)])
    handler, calls = batched_recording(fail_first_with=5)
    runner = runner_with(handler, sessions, kafka_bootstrap, topics)
    await run_until(runner, lambda: runner.applied == 10)
    assert await applied_in_order(sessions) == list(range(1, 11))  # the failed run's writes rolled back
    failed = next(i for i, call in enumerate(calls) if 5 in call)
    assert len(calls[failed]) > 1 and all(len(call) == 1 for call in calls[failed + 1 :])
    assert runner.dead_lettered == 0


async def test_after_a_parked_record_the_rest_of_the_poll_is_one_transaction_again(
    sessions, kafka_bootstrap, topics
) -> None:
    key = uuid.uuid4()
    await produce(kafka_bootstrap, f"{topics}crm.customer", [ping_bytes(n, key) for n in range(1, 101)])
    handler, calls = failing_on(5, times=99, error=PermanentError)
    runner = runner_with(handler, sessions, kafka_bootstrap, topics)
    before = {kind: transactions(kind) for kind in ("poll", "careful")}
    await run_until(runner, lambda: runner.applied == 99 and runner.dead_lettered == 1)
    assert transactions("careful") - before["careful"] == 1  # the round that parked 5
    assert 3 <= transactions("poll") - before["poll"] <= 5  # 6-100 in transactions of 32
    assert await applied_in_order(sessions) == [n for n in range(1, 101) if n != 5]
    assert calls[5] == 2 and calls[6] == 1  # parked at once after its careful attempt; 6 ran once
    if sessions.kw["bind"].dialect.name == "postgresql":
        async with sessions() as s:
            after = await s.scalar(text("SELECT count(DISTINCT xmin::text) FROM effects WHERE ping_no > 5"))
        assert after <= 5  # no savepoints: not one transaction id per record
