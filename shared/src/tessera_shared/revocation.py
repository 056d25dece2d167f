"""Access tokens revoked before they expire, refused by every process (every replica).

The gateway stores revocations (``POST /auth/logout``, ``POST /auth/revoke``) in its own
database and serves them at ``GET /auth/revocations?since=``. Every process keeps the revoked
``jti``s in memory (:class:`RevokedTokens`, on ``app.state.revoked_tokens``) and refreshes the
set every ``REVOCATION_POLL_SECONDS`` (2 s) from the gateway (:class:`RevocationFeed`); the
gateway's own replicas read their database instead. A Kafka event would not do: a consumer
group hands each event to one replica per service.

Each poll asks for what was revoked since the previous answer's ``now`` minus an overlap
(``OVERLAP_SECONDS``), so a revocation committed late, or stamped by a gateway replica whose
clock is a little behind, is still seen. Entries are dropped once the token has expired anyway,
so the set holds at most the revocations of one access-token lifetime.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from fastapi import FastAPI

from tessera_shared.feeds import Poller, gateway_client, polling
from tessera_shared.settings import ServiceSettings

log = logging.getLogger(__name__)

REVOCATION_POLL_SECONDS = 2.0
OVERLAP_SECONDS = 30.0
FEED_PATH = "/auth/revocations"


class RevokedTokens:
    """jti -> expiry (epoch seconds). Checked on every authenticated request: a dict lookup."""

    def __init__(self) -> None:
        self._expiry: dict[str, float] = {}
        # The feed's cursor: the last answer's server time.
        self.since: datetime | None = None
        self.synced_at: float | None = None  # monotonic time of the last successful refresh

    def __contains__(self, jti: object) -> bool:
        return jti in self._expiry

    def __len__(self) -> int:
        return len(self._expiry)

    def add(self, jti: str, expires_at: float) -> None:
        self._expiry[jti] = expires_at

    def merge(self, entries: Iterable[tuple[str, float]], now: datetime) -> None:
        for jti, expires_at in entries:
            self._expiry[jti] = expires_at
        horizon = time.time() - 60  # a little past expiry: the verifier allows clock skew
        for jti in [j for j, exp in self._expiry.items() if exp < horizon]:
            del self._expiry[jti]
        self.since = now - timedelta(seconds=OVERLAP_SECONDS)
        self.synced_at = time.monotonic()


def parse_feed(body: dict[str, Any]) -> tuple[list[tuple[str, float]], datetime]:
    entries = [(str(item["jti"]), datetime.fromisoformat(item["expires_at"]).timestamp()) for item in body["items"]]
    return entries, datetime.fromisoformat(body["now"])


class RevocationPoller(Poller):
    """Refreshes a :class:`RevokedTokens` every ``interval`` seconds with ``fetch(since)``."""

    log = log
    failing = "cannot read token revocations; revoked tokens stay accepted until it can"
    current = "token revocations are current again"

    def __init__(
        self,
        revoked: RevokedTokens,
        fetch: Callable[[datetime | None], Awaitable[tuple[list[tuple[str, float]], datetime]]],
        interval: float = REVOCATION_POLL_SECONDS,
        source: str = "the gateway",
    ) -> None:
        super().__init__(interval, extra={"source": source})
        self.revoked = revoked
        self.fetch = fetch
        self.source = source

    async def refresh(self) -> None:
        entries, now = await self.fetch(self.revoked.since)
        self.revoked.merge(entries, now)


def http_feed(
    gateway_url: str, timeout: float = 2.0
) -> tuple[httpx.AsyncClient, Callable[[datetime | None], Awaitable[tuple[list[tuple[str, float]], datetime]]]]:
    """A client and a fetch function reading the gateway's ``/auth/revocations``."""
    client = gateway_client(gateway_url, timeout)

    async def fetch(since: datetime | None) -> tuple[list[tuple[str, float]], datetime]:
        params = {"since": since.astimezone(UTC).isoformat()} if since is not None else {}
        r = await client.get(FEED_PATH, params=params)
        r.raise_for_status()
        return parse_feed(r.json())

    return client, fetch


@asynccontextmanager
async def revocation_feed(app: FastAPI, service: str, settings: ServiceSettings) -> AsyncIterator[None]:
    """Every process but the gateway (which reads its own table) follows the gateway's revocations."""
    if service == "gateway" or not settings.token_revocations:
        yield
        return
    client, fetch = http_feed(settings.gateway_url)
    async with polling(
        RevocationPoller(app.state.revoked_tokens, fetch, settings.token_revocations_poll_seconds), client
    ):
        yield
