"""Login throttling: too many failures for a user name or an address within a window, counted in
the store every gateway replica shares (limits/store.py), so that it holds across replicas and
restarts.

An attempt counts as a failure from the moment it is made (before its password is checked), and
is forgotten when it succeeds: concurrent guesses through several replicas cannot slip past the
limit while their hashes are being verified. User names are stored hashed (a name typed wrong is
sometimes a password)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from tessera_gateway.limits.store import SlidingWindows


def login_keys(name: str, address: str) -> list[str]:
    """The counters one login attempt is held to: its user name's and its client address's."""
    return [f"login:name:{hashlib.sha256(name.encode()).hexdigest()[:40]}", f"login:addr:{address}"]


class LoginThrottle:
    def __init__(self, windows: SlidingWindows, max_failures: int, window_seconds: int) -> None:
        self._windows = windows
        self._max = max_failures
        self._window = window_seconds

    async def attempt(self, keys: Sequence[str]) -> float | None:
        """Count an attempt against every key: None when allowed, else the seconds until one of
        them unlocks (and nothing is counted)."""
        taken: list[tuple[str, int]] = []
        for key in keys:
            decision = await self._windows.take(key, self._max, self._window)
            if not decision.allowed:
                for done, start in taken:
                    await self._windows.give_back(done, start)
                return decision.retry_after
            taken.append((key, decision.start))
        return None

    async def succeeded(self, keys: Sequence[str]) -> None:
        await self._windows.clear(keys)
