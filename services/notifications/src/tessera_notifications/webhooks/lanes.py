"""The worker's HTTP client: several small httpcore connection pools ("lanes") instead of one large
httpx client.

httpcore's pool looks at every connection it holds (each one's socket polled for readability)
whenever a request starts or ends, so one pool of 64 connections spent more CPU per request than
the request itself: the largest cost of a delivery in row 13's profile. A lane holds
``LANE_CONNECTIONS`` connections; a request goes to the lane with the fewest in flight, so with the
worker's semaphore of ``webhook_concurrency`` no lane ever queues (a lane is always below its limit
when a request starts).

The requests go to the pools directly: httpx's client around them (its request and response
models, header merging, cookies, URL handling per request) was the next largest cost, and a
webhook needs none of it. What httpx did that a webhook needs is done here: the URL parsed as httpx
parses it (once per URL), Host and Content-Length set (httpcore's ``request``), no redirect followed,
no proxy read from the environment, one timeout for each phase. The lanes share one network backend
(``ssrf.GuardedBackend``: one SSRF policy decides every connection) and one TLS context.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpcore
import httpx

from tessera_notifications.webhooks.ssrf import AddressPolicy, GuardedBackend

LANE_CONNECTIONS = 4
_URLS_KEPT = 10_000


@dataclass(frozen=True)
class Answer:
    status_code: int
    body: bytes


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
        tls = httpx.create_ssl_context()
        self.pools = [
            httpcore.AsyncConnectionPool(
                ssl_context=tls,
                max_connections=size,
                max_keepalive_connections=size,
                keepalive_expiry=5.0,
                http1=True,
                http2=False,
                network_backend=self.backend,
            )
            for _ in range(count)
        ]
        self._busy = [0] * count
        self._timeouts = {"timeout": {"connect": timeout, "read": timeout, "write": timeout, "pool": timeout}}
        self._urls: dict[str, httpcore.URL] = {}

    def url(self, url: str) -> httpcore.URL:
        found = self._urls.get(url)
        if found is None:
            parsed = httpx.URL(url)  # as httpx would send it (IDNA host, percent-encoded path)
            if parsed.scheme not in ("http", "https"):
                raise httpcore.UnsupportedProtocol(f"not an http(s) URL: {url!r}")
            if len(self._urls) >= _URLS_KEPT:
                self._urls.clear()
            found = self._urls[url] = httpcore.URL(
                scheme=parsed.raw_scheme, host=parsed.raw_host, port=parsed.port, target=parsed.raw_path
            )
        return found

    async def post(self, url: str, content: bytes, headers: dict[str, str]) -> Answer:
        """POST through the least busy lane (the first of equals: an idle process keeps reusing the
        same few connections); httpcore's exceptions as they come (``httpcore.TimeoutException``
        for a timeout)."""
        lane = min(range(len(self._busy)), key=self._busy.__getitem__)
        self._busy[lane] += 1
        try:
            response = await self.pools[lane].request(
                b"POST", self.url(url), headers=list(headers.items()), content=content, extensions=self._timeouts
            )
        finally:
            self._busy[lane] -= 1
        return Answer(response.status, response.content)

    async def aclose(self) -> None:
        for pool in self.pools:
            await pool.aclose()
