"""Background tasks that stop gracefully within a deadline."""

from __future__ import annotations

import asyncio


async def finish_or_cancel(task: asyncio.Task[None] | None, timeout: float) -> None:
    """Let ``task`` finish on its own for ``timeout`` seconds, then cancel it."""
    if task is None:
        return
    try:
        await asyncio.wait_for(asyncio.shield(task), timeout)
    except TimeoutError:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
