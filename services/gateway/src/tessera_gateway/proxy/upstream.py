"""The forwarding hop's HTTP/1.1 client: a keep-alive pool per upstream on asyncio's own
transports, responses parsed by httptools (llhttp, the parser uvicorn serves with).

Why not httpx2 here: measured in process (tests/bench/hop.py), a forwarded GET cost the gateway
~595 us of CPU in httpx2's client (request building, auth and redirect layers, anyio streams,
the pool's bookkeeping) and ~300 us through httpcore2 directly, against ~60 us for this. httpx2
stays for everything else (the composed views, the merged OpenAPI, readiness, the notifications
stream and the bulk import) and for upstreams a test mounts in process.

What it does: one request at a time per connection, the whole response read into one bytes
object (Content-Length or chunked: the services' answers are small JSON; the import and the
stream go through httpx2); idle connections are kept ``keepalive_expiry`` seconds (below
uvicorn's 5 s) and dropped as soon as the server closes them (``connection_lost``: no syscall to
probe them). At most ``max_connections`` requests in flight per upstream; a request waiting for
a free connection counts against its timeout. Errors are :class:`UpstreamError` with a kind:
``connect`` (nothing was sent), ``timeout`` or ``transport``.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

import httptools

ErrorKind = Literal["connect", "timeout", "transport"]
KEEPALIVE_EXPIRY = 4.0  # seconds; uvicorn closes an idle keep-alive connection after 5 s
_NO_BODY_METHODS = frozenset({"GET", "HEAD", "DELETE", "OPTIONS"})


class UpstreamError(Exception):
    def __init__(self, kind: ErrorKind, message: str) -> None:
        super().__init__(message)
        self.kind = kind


@dataclass(slots=True)
class UpstreamResponse:
    status: int
    headers: list[tuple[bytes, bytes]]  # as received, names as the server wrote them
    body: bytes

    def header(self, name: bytes) -> bytes | None:
        """The first value of a header (``name`` in lower case)."""
        for key, value in self.headers:
            if key.lower() == name:
                return value
        return None


class _Connection(asyncio.Protocol):
    """One keep-alive connection; one request/response at a time."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.idle_since = 0.0
        self._parser = httptools.HttpResponseParser(self)
        self._waiter: asyncio.Future[UpstreamResponse] | None = None
        self._headers: list[tuple[bytes, bytes]] = []
        self._body: list[bytes] = []

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # a stream connection's transport

    def data_received(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(UpstreamError("transport", f"invalid response: {exc}"))
            self.close()

    def eof_received(self) -> bool | None:
        return None  # the transport closes itself: connection_lost follows

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._fail(UpstreamError("transport", f"connection closed by the upstream{f': {exc}' if exc else ''}"))

    # httptools callbacks
    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.append((name, value))

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        waiter, self._waiter = self._waiter, None
        response = UpstreamResponse(self._parser.get_status_code(), self._headers, b"".join(self._body))
        self._headers, self._body = [], []
        if not self._parser.should_keep_alive():
            self.close()
        if waiter is not None and not waiter.done():
            waiter.set_result(response)

    # the pool's side
    def _fail(self, exc: UpstreamError) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_exception(exc)

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    async def exchange(self, head: bytes, body: bytes) -> UpstreamResponse:
        if self.transport is None or self.closed:
            raise UpstreamError("transport", "connection closed")
        waiter = asyncio.get_running_loop().create_future()
        self._waiter = waiter
        self.transport.write(head + body if len(body) < 65_536 else head)
        if len(body) >= 65_536:
            self.transport.write(body)
        return await waiter


class UpstreamPool:
    """Keep-alive HTTP/1.1 connections to one upstream (``http://host:port``)."""

    def __init__(
        self,
        base_url: str,
        *,
        max_connections: int,
        timeout: float,
        connect_timeout: float,
        keepalive_expiry: float = KEEPALIVE_EXPIRY,
    ) -> None:
        parts = urlsplit(base_url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"only plain http:// upstreams use the pool: {base_url}")
        self.host = parts.hostname
        self.port = parts.port or 80
        self._host_header = f"{parts.hostname}:{self.port}" if parts.port else parts.hostname
        self.prefix = parts.path.rstrip("/")
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self.keepalive_expiry = keepalive_expiry
        self._slots = asyncio.Semaphore(max_connections)
        self._idle: deque[_Connection] = deque()
        self._closed = False

    async def request(
        self,
        method: str,
        target: str,
        headers: list[tuple[str, str]],
        body: bytes = b"",
        timeout: float | None = None,
    ) -> UpstreamResponse:
        """One exchange. ``target`` is the path and query (already encoded), without the prefix."""
        lines = [f"{method} {self.prefix}{target} HTTP/1.1\r\nhost: {self._host_header}\r\n"]
        lines += [f"{name}: {value}\r\n" for name, value in headers]
        if body or method not in _NO_BODY_METHODS:
            lines.append(f"content-length: {len(body)}\r\n")
        lines.append("\r\n")
        head = "".join(lines).encode("latin-1")
        try:
            async with asyncio.timeout(timeout or self.timeout):
                async with self._slots:
                    conn = await self._connection()
                    try:
                        response = await conn.exchange(head, body)
                    except BaseException:
                        conn.close()
                        raise
                    if not conn.closed:
                        conn.idle_since = time.monotonic()
                        self._idle.append(conn)
                    return response
        except TimeoutError:
            raise UpstreamError("timeout", f"no answer from {self._host_header} in time") from None

    async def _connection(self) -> _Connection:
        now = time.monotonic()
        while self._idle:
            conn = self._idle.pop()  # the most recently used: warm, and the oldest ones expire
            if not conn.closed and now - conn.idle_since < self.keepalive_expiry:
                return conn
            conn.close()
        if self._closed:
            raise UpstreamError("connect", "the upstream pool is closed")
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self.connect_timeout):
                _, conn = await loop.create_connection(_Connection, self.host, self.port)
        except TimeoutError:
            raise UpstreamError("connect", f"connecting to {self._host_header} timed out") from None
        except OSError as exc:
            raise UpstreamError("connect", f"cannot connect to {self._host_header}: {exc}") from None
        return conn

    async def aclose(self) -> None:
        self._closed = True
        while self._idle:
            self._idle.pop().close()


@asynccontextmanager
async def upstream_pools(
    upstreams: Mapping[str, str], settings: Any, mounts: Mapping[str, Any] | None = None
) -> AsyncIterator[dict[str, UpstreamPool]]:
    """A pool per plain-http upstream, closed on the way out; none when a test mounts transports
    in process (those go through httpx2, which routes to them)."""
    pools: dict[str, UpstreamPool] = {}
    if not mounts:
        for service, url in upstreams.items():
            if urlsplit(url).scheme == "http":
                pools[service] = UpstreamPool(
                    url,
                    max_connections=settings.upstream_max_connections,
                    timeout=settings.upstream_timeout,
                    connect_timeout=settings.upstream_connect_timeout,
                )
    try:
        yield pools
    finally:
        for pool in pools.values():
            await pool.aclose()
