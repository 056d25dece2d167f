"""A real HTTP receiver for the webhooks tests: uvicorn on 127.0.0.1, answering what the test
scripts (per request), recording every request's headers, body and arrival time."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field

import uvicorn
from starlette.requests import Request
from starlette.responses import Response


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    at: float


@dataclass
class Receiver:
    port: int = 0
    # (request) -> status; 200 unless the test says otherwise.
    answer: Callable[[Received], int] = lambda _: 200
    received: list[Received] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    async def app(self, scope, receive, send):  # type: ignore[no-untyped-def]
        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        got = Received({k.lower(): v for k, v in request.headers.items()}, await request.body(), time.monotonic())
        self.received.append(got)
        self.arrived.set()
        status = self.answer(got)
        await Response(f"answer {status} " + "x" * 2000, status_code=status)(scope, receive, send)

    async def wait_for(self, count: int, timeout: float = 20.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while len(self.received) < count:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"{len(self.received)} requests received, {count} expected")
            self.arrived.clear()
            with suppress(TimeoutError):
                await asyncio.wait_for(self.arrived.wait(), min(left, 0.5))
        return self.received


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@asynccontextmanager
async def receiving(answer: Callable[[Received], int] | None = None) -> AsyncIterator[Receiver]:
    receiver = Receiver(port=_free_port())
    if answer is not None:
        receiver.answer = answer
    server = uvicorn.Server(
        uvicorn.Config(
            receiver.app, host="127.0.0.1", port=receiver.port, log_config=None, lifespan="off", interface="asgi3"
        )
    )
    task = asyncio.create_task(server.serve())
    try:
        for _ in range(200):
            if server.started:
                break
            await asyncio.sleep(0.02)
        yield receiver
    finally:
        server.should_exit = True
        await task
