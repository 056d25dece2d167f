"""Work that lost a race to another transaction, tried again.

PostgreSQL ends a transaction with ``deadlock_detected`` (40P01) or ``serialization_failure``
(40001) when it had to give way to another one: nothing is wrong with the work, and running it
again in a new transaction is the remedy. ``lost_race`` is the one place that says which errors
those are (the consumer runner's retry rule uses it too); ``retry_lost_races`` runs a unit of
work again after such an error, with a growing, jittered pause; ``or_unavailable`` turns a race
still lost after the retries into a 503 with Retry-After, never a 500.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from typing import TypeVar

from tessera_shared.errors import Unavailable

log = logging.getLogger(__name__)

T = TypeVar("T")

# deadlock_detected, serialization_failure: the transaction lost a race, the work is fine.
LOST_RACE_SQLSTATES = frozenset({"40P01", "40001"})


def lost_race(exc: BaseException) -> bool:
    """A deadlock or serialization failure, as SQLAlchemy wraps it (``exc.orig.sqlstate``) or as
    the driver raised it (``exc.sqlstate``)."""
    return any(getattr(error, "sqlstate", None) in LOST_RACE_SQLSTATES for error in (exc, getattr(exc, "orig", None)))


async def retry_lost_races(
    work: Callable[[], Awaitable[T]],
    *,
    attempts: int = 5,
    backoff: float = 0.05,
    max_backoff: float = 2.0,
    what: str = "transaction",
    sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
) -> T:
    """``await work()``, again after a lost race (at most ``attempts`` times in all); pauses of
    ``backoff`` doubling up to ``max_backoff``, each times 0.5-1.5 so racers do not meet again.
    ``work`` must be a whole transaction (it starts and ends its own): a lost race rolled it back.
    Any other error, or the last attempt's lost race, is raised."""
    if attempts < 1:
        raise ValueError("attempts must be at least 1")
    for attempt in range(1, attempts + 1):
        try:
            return await work()
        except Exception as exc:
            if attempt == attempts or not lost_race(exc):
                raise
            pause = min(max_backoff, backoff * 2 ** (attempt - 1)) * (0.5 + random.random())  # noqa: S311 - jitter
            log.warning(
                "%s lost a race, retrying", what, extra={"attempt": attempt, "pause": pause, "error": repr(exc)}
            )
            await sleep(pause)
    raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises


async def or_unavailable(
    work: Callable[[], Awaitable[T]],
    *,
    detail: str,
    retry_after: int = 5,
    attempts: int = 5,
    what: str = "transaction",
    sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
) -> T:
    """``retry_lost_races(work)``, and a race still lost after the retries as ``Unavailable``
    (503, Retry-After): what an on-demand run answers instead of a 500."""
    try:
        return await retry_lost_races(work, attempts=attempts, what=what, sleep=sleep)
    except Exception as exc:
        if lost_race(exc):
            raise Unavailable(detail, retry_after=retry_after) from exc
        raise
