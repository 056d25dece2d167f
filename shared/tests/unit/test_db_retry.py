"""tessera_shared.db.retry without a database: which errors are lost races, how often and how long
the work is tried again, and the 503 an exhausted retry becomes."""

from __future__ import annotations

import asyncpg
import pytest
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from tessera_shared.consumer.items import is_transient
from tessera_shared.db.retry import lost_race, or_unavailable, retry_lost_races
from tessera_shared.errors import Unavailable


class _Driver(Exception):
    def __init__(self, sqlstate: str) -> None:
        super().__init__(sqlstate)
        self.sqlstate = sqlstate


def _wrapped(sqlstate: str) -> DBAPIError:
    """What SQLAlchemy raises for a driver error: the driver's error as ``orig``."""
    return DBAPIError("UPDATE customers ...", {}, _Driver(sqlstate))


def test_deadlocks_and_serialization_failures_are_lost_races() -> None:
    assert lost_race(_wrapped("40P01")) and lost_race(_wrapped("40001"))
    assert lost_race(asyncpg.exceptions.DeadlockDetectedError("deadlock detected"))
    assert lost_race(asyncpg.exceptions.SerializationError("could not serialize access"))
    assert not lost_race(_wrapped("23505"))  # unique_violation: the work itself is wrong
    assert not lost_race(_wrapped("57014"))  # query_canceled
    assert not lost_race(RuntimeError("boom"))


def test_the_consumer_retries_what_the_helper_retries() -> None:
    # One classification: the consumer runner's transient rule includes the lost races.
    assert is_transient(_wrapped("40P01")) and is_transient(_wrapped("40001"))
    assert not is_transient(_wrapped("23505"))
    assert not is_transient(IntegrityError("INSERT", {}, _Driver("23505")))
    assert is_transient(OperationalError("SELECT", {}, _Driver("08006")))


class _Work:
    """Fails with the given errors, one per call, then answers."""

    def __init__(self, *errors: BaseException) -> None:
        self.errors = list(errors)
        self.calls = 0

    async def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "done"


async def test_a_lost_race_is_tried_again_with_growing_pauses() -> None:
    pauses: list[float] = []

    async def sleep(seconds: float) -> None:
        pauses.append(seconds)

    work = _Work(_wrapped("40P01"), _wrapped("40001"), _wrapped("40P01"))
    assert await retry_lost_races(work, attempts=5, backoff=0.1, max_backoff=0.3, sleep=sleep) == "done"
    assert work.calls == 4 and len(pauses) == 3
    # 0.1, 0.2, then capped at 0.3; each times a jitter of 0.5-1.5.
    for pause, base in zip(pauses, (0.1, 0.2, 0.3), strict=True):
        assert base * 0.5 <= pause <= base * 1.5


async def test_other_errors_and_the_last_attempt_are_raised() -> None:
    async def sleep(_: float) -> None:
        return None

    other = _Work(_wrapped("23505"))
    with pytest.raises(DBAPIError):
        await retry_lost_races(other, sleep=sleep)
    assert other.calls == 1  # not a race: no second try
    always = _Work(*(_wrapped("40P01") for _ in range(10)))
    with pytest.raises(DBAPIError) as raised:
        await retry_lost_races(always, attempts=3, sleep=sleep)
    assert always.calls == 3 and lost_race(raised.value)
    with pytest.raises(ValueError, match="attempts"):
        await retry_lost_races(_Work(), attempts=0, sleep=sleep)


async def test_an_exhausted_retry_is_a_503_with_retry_after() -> None:
    async def sleep(_: float) -> None:
        return None

    always = _Work(*(_wrapped("40P01") for _ in range(10)))
    with pytest.raises(Unavailable) as raised:
        await or_unavailable(always, detail="busy, try again", retry_after=7, attempts=2, sleep=sleep)
    assert always.calls == 2
    assert raised.value.status == 503 and raised.value.headers == {"Retry-After": "7"}
    assert await or_unavailable(_Work(_wrapped("40001")), detail="-", sleep=sleep) == "done"
    with pytest.raises(DBAPIError):  # not a race: raised as it is (a 500 is then right)
        await or_unavailable(_Work(_wrapped("23505")), detail="-", sleep=sleep)
