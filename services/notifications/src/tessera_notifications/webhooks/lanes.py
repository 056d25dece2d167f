"""The worker's HTTP clients: several small connection pools ("lanes") instead of one large one.

httpcore's pool looks at every connection it holds (each one's socket polled for readability)
whenever a request starts or ends, so one pool of 64 connections spends far more CPU per request
than the request itself: it was the largest cost of a delivery (row 13's profile). A lane holds
``LANE_CONNECTIONS`` connections; a request goes to the lane with the fewest in flight, so with the
worker's semaphore of ``webhook_concurrency`` no lane ever queues (a lane is always below its
limit when a request starts). The lanes share one network backend, so one SSRF policy decides
every connection.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx

from tessera_notifications.webhooks.ssrf import AddressPolicy, GuardedBackend, guarded_client

LANE_CONNECTIONS = 4


class Lanes:
    def __init__(
        self,
        policy: AddressPolicy,
        *,
        timeout: float,
        connections: int,
        per_lane: int = LANE_CONNECTIONS,
    ) -> None:
        self.backend = GuardedBackend(policy)
        count = max(1, -(-connections // per_lane))
        size = -(-connections // count)
        self.clients = [
            guarded_client(policy, timeout=timeout, connections=size, backend=self.backend) for _ in range(count)
        ]
        self._busy = [0] * count

    @asynccontextmanager
    async def client(self) -> AsyncIterator[httpx.AsyncClient]:
        """The least busy lane's client for one request (the first of equals: an idle process
        keeps reusing the same few connections)."""
        lane = min(range(len(self._busy)), key=self._busy.__getitem__)
        self._busy[lane] += 1
        try:
            yield self.clients[lane]
        finally:
            self._busy[lane] -= 1

    async def aclose(self) -> None:
        for client in self.clients:
            await client.aclose()
