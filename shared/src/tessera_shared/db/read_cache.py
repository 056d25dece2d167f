"""A small per-process cache of rows read often and changed rarely (routing rules, webhook endpoints).

Each value is kept per database (the engine's URL: tests run several) and key for at most ``ttl``
seconds, so a change made through another replica is seen within ``ttl``; a change through this
process clears it at once (``forget``) and again when its transaction commits (``forget_on_commit``),
so no reader caches the old rows between the change and its commit for longer than that.
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, Generic, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from tessera_shared.db.commit_hooks import after_commit

T = TypeVar("T")

_ON_COMMIT = "tessera.read_cache.forget"


class ReadCache(Generic[T]):
    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._values: dict[tuple[str, Hashable], tuple[float, T]] = {}

    def forget(self) -> None:
        self._values.clear()

    def forget_on_commit(self, session: AsyncSession) -> None:
        """Clear now and once more right after ``session``'s transaction commits."""
        self.forget()
        after_commit(session, (_ON_COMMIT, id(self)), self._forget_committed)

    def _forget_committed(self, _: Session) -> None:
        self.forget()

    async def get(self, session: AsyncSession, key: Hashable, load: Callable[[], Awaitable[T]]) -> T:
        """The cached value of ``key`` in ``session``'s database, or ``load()``'s (then kept)."""
        slot = (_database(session), key)
        cached = self._values.get(slot)
        now = time.monotonic()
        if cached is not None and now - cached[0] < self.ttl:
            return cached[1]
        value = await load()
        self._values[slot] = (now, value)
        return value


# Each engine's URL as text, rendered once (rendering it on every read cost a batch of 1,000
# inputs ~14 us each).
_URLS: weakref.WeakKeyDictionary[Any, str] = weakref.WeakKeyDictionary()


def _database(session: AsyncSession) -> str:
    engine = session.get_bind().engine
    url = _URLS.get(engine)
    if url is None:
        url = _URLS[engine] = str(engine.url)
    return url
