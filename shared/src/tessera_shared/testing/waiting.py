"""Waiting in tests for what other processes do (consumers' lag, jobs), without fixed sleeps."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any


async def eventually(probe: Callable[[], Awaitable[Any]], *, seconds: float = 60.0, every: float = 0.1) -> Any:
    """Poll ``probe`` every ``every`` seconds until it answers something truthy and return that
    answer, else fail after ``seconds`` with its last answer."""
    last = None
    for _ in range(int(seconds / every)):
        last = await probe()
        if last:
            return last
        await asyncio.sleep(every)
    raise AssertionError(f"not reached in {seconds} s: {last!r}")
