"""Login throttling: too many failures for a user name or an address within a window (pure)."""

from __future__ import annotations

import time
from collections import defaultdict, deque
from collections.abc import Callable, Iterable


class LoginThrottle:
    """Counts failures per key in a sliding window; held in memory per gateway replica."""

    def __init__(self, max_failures: int, window_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._max = max_failures
        self._window = window_seconds
        self._clock = clock
        self._failures: dict[str, deque[float]] = defaultdict(deque)

    def _recent(self, key: str) -> deque[float]:
        q = self._failures[key]
        horizon = self._clock() - self._window
        while q and q[0] <= horizon:
            q.popleft()
        return q

    def retry_after(self, keys: Iterable[str]) -> float | None:
        """Seconds until a locked key may try again, or None when none is locked."""
        waits = [q[0] + self._window - self._clock() for k in keys if len(q := self._recent(k)) >= self._max]
        return max(waits) if waits else None

    def failed(self, keys: Iterable[str]) -> None:
        now = self._clock()
        for key in keys:
            self._recent(key).append(now)

    def succeeded(self, keys: Iterable[str]) -> None:
        for key in keys:
            self._failures.pop(key, None)
