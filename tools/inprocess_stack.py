"""The gateway and the five services served by uvicorn on free loopback ports, in one thread of
this process: real HTTP (a browser or a generated client can use it), SQLite files, Kafka and
jobs off. Starts in a few seconds; for tests that need the HTTP surface, not the event flow.

    with InprocessStack(tmp_path) as stack:
        stack.urls["gateway"], stack.urls["customer"], ...
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx
import uvicorn
from service_apps import SERVICES, main_module, settings_class

UPSTREAM_SETTINGS = {
    "customer": "customer_url",
    "sales": "sales_url",
    "service-desk": "service_desk_url",
    "billing": "billing_url",
    "notifications": "notifications_url",
}


def _free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


class InprocessStack:
    def __init__(self, data_dir: Path, *, start_timeout: float = 60.0, **overrides: Any) -> None:
        self.data_dir = data_dir
        self.start_timeout = start_timeout
        self.overrides = overrides
        self.sockets = {name: _free_socket() for name in SERVICES}
        self.urls = {name: f"http://127.0.0.1:{s.getsockname()[1]}" for name, s in self.sockets.items()}
        self.servers: list[uvicorn.Server] = []
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    def _settings(self, name: str) -> Any:
        values: dict[str, Any] = {
            "database_url": f"sqlite+aiosqlite:///{self.data_dir / (name + '.db')}",
            "kafka_enabled": False,
            "jobs_enabled": False,
            "log_json": False,
            "log_level": "WARNING",
            "gc_freeze_after_start": False,
            "environment": "local",
        }
        if name == "gateway":
            values.update({key: self.urls[service] for service, key in UPSTREAM_SETTINGS.items()})
            values.update(view_cache_enabled=False, rate_limit_per_minute=100_000)
        else:
            values["gateway_url"] = self.urls["gateway"]
            if name != "customer":  # the known-customers read-through (§10.2) of sales, the desk, billing
                values["customer_url"] = self.urls["customer"]
        fields = settings_class(name).model_fields
        values.update({k: v for k, v in self.overrides.items() if k in fields})
        return settings_class(name)(**values)

    def _run(self) -> None:
        async def main() -> None:
            for name in SERVICES:
                app = main_module(name).create_app(self._settings(name))
                # Open keep-alive connections (a browser's) must not hold the shutdown: 1 s grace.
                config = uvicorn.Config(
                    app, log_level="warning", lifespan="on", access_log=False, timeout_graceful_shutdown=1
                )
                self.servers.append(uvicorn.Server(config))
            tasks = []
            for name, server in zip(SERVICES, self.servers, strict=True):
                # One at a time: migrations (alembic's module-level context) must not interleave.
                tasks.append(asyncio.create_task(server.serve(sockets=[self.sockets[name]])))
                while not server.started and not tasks[-1].done():  # noqa: ASYNC110 - uvicorn has a flag, no event
                    await asyncio.sleep(0.02)
            await asyncio.gather(*tasks)

        try:
            asyncio.run(main())
        except BaseException as exc:
            self._error = exc

    def start(self) -> InprocessStack:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._thread = threading.Thread(target=self._run, name="inprocess-stack", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + self.start_timeout
        pending = dict(self.urls)
        with httpx.Client(timeout=2.0) as client:
            while pending:
                if self._error is not None or not self._thread.is_alive():
                    raise RuntimeError(f"the stack stopped while starting: {self._error!r}")
                if time.monotonic() > deadline:
                    raise TimeoutError(f"not ready in {self.start_timeout} s: {sorted(pending)}")
                for name, url in list(pending.items()):
                    try:
                        if client.get(f"{url}/readyz").status_code == 200:
                            del pending[name]
                    except httpx.HTTPError:
                        pass
                time.sleep(0.1)
        return self

    def stop(self) -> None:
        for server in self.servers:
            server.should_exit = True
        if self._thread is not None:
            self._thread.join(30)
        for sock in self.sockets.values():
            sock.close()

    def __enter__(self) -> InprocessStack:
        return self.start()

    def __exit__(self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()
