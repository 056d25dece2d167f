"""What a process follows by polling (the gateway's token revocations, its usernames): a client
for the gateway's feeds, a poller that logs a failing source once, and its task for a lifespan."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, ClassVar

import httpx

from tessera_shared.http.tls import client_tls


def gateway_client(
    gateway_url: str, timeout: float = 2.0, *, transport: httpx.AsyncBaseTransport | None = None
) -> httpx.AsyncClient:
    """A client of the gateway's feeds (``transport``: tests reach an in-process gateway)."""
    return httpx.AsyncClient(
        base_url=gateway_url.rstrip("/"), timeout=timeout, verify=client_tls(), transport=transport
    )


class Poller:
    """Calls :meth:`refresh` every ``interval`` seconds. A failing source is logged once when it
    starts failing (``failing``) and once when it recovers (``current``); what was last read stays
    in force meanwhile."""

    log: ClassVar[logging.Logger]
    failing: ClassVar[str]
    current: ClassVar[str]

    def __init__(self, interval: float, extra: dict[str, Any] | None = None) -> None:
        self.interval = interval
        self._extra = extra or {}
        self._failing = False

    async def refresh(self) -> None:
        raise NotImplementedError

    async def run(self) -> None:
        while True:
            try:
                await self.refresh()
                if self._failing:
                    self.log.warning(self.current, extra=self._extra)
                    self._failing = False
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if not self._failing:
                    self.log.warning(self.failing, extra={**self._extra, "error": repr(exc)})
                    self._failing = True
            await asyncio.sleep(self.interval)


@asynccontextmanager
async def polling(poller: Poller, client: httpx.AsyncClient | None = None) -> AsyncIterator[None]:
    """``poller`` running for as long as the block lasts; its ``client`` closed after it."""
    task = asyncio.create_task(poller.run())
    try:
        yield
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        if client is not None:
            await client.aclose()
