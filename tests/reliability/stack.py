"""Real service processes for the fault suite: start, kill -9, restart, and look inside."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from tessera_shared.auth import TokenCodec
from tessera_shared.settings import LOCAL_SIGNING_KEY
from tessera_shared.testing.plugin import worker_port

ROOT = Path(__file__).resolve().parents[2]
PORTS = {"gateway": 0, "customer": 1, "sales": 2, "service-desk": 3, "billing": 4, "notifications": 5}
BASE_PORT = worker_port(int(os.environ.get("TESSERA_RELIABILITY_BASE_PORT", "18100")))


def token(subject: str = "reliability", *roles: str) -> str:
    codec = TokenCodec(algorithm="HS256", signing_key=LOCAL_SIGNING_KEY, issuer="tessera-gateway", audience="tessera")
    return codec.issue(subject, roles or ("admin",))


def pg_dsn(sqlalchemy_url: str) -> str:
    return sqlalchemy_url.replace("postgresql+asyncpg://", "postgresql://")


@dataclass
class ServiceProcess:
    name: str
    database_url: str
    bootstrap: str
    namespace: str
    log_dir: Path
    proc: subprocess.Popen[bytes] | None = None
    extra_env: dict[str, str] = field(default_factory=dict)
    # Replica 0 is the process a scenario starts, faults and kills; its peers (replicas 1..) run
    # beside it on the same database and consumer group, healthy, from its first readiness on.
    replica: int = 0
    peers: list[ServiceProcess] = field(default_factory=list)

    @property
    def port(self) -> int:
        return BASE_PORT + PORTS[self.name] + 10 * self.replica

    @property
    def log_name(self) -> str:
        return f"{self.name}.log" if self.replica == 0 else f"{self.name}-{self.replica}.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, fault: str | None = None) -> None:
        prefix = f"TESSERA_{self.name.replace('-', '_').upper()}_"
        env = {
            **os.environ,
            prefix + "DATABASE_URL": self.database_url,
            prefix + "KAFKA_BOOTSTRAP": self.bootstrap,
            prefix + "KAFKA_TOPIC_NAMESPACE": self.namespace,
            prefix + "KAFKA_CONSUMER_GROUP": f"{self.namespace}tessera-{self.name}",
            prefix + "KAFKA_PARTITIONS": "3",
            prefix + "JOBS_ENABLED": "false",
            prefix + "CONSUMER_RETRY_BACKOFF": "0.05",
            prefix + "CONSUMER_MAX_ATTEMPTS": "2",
            **self.extra_env,
        }
        env.pop("TESSERA_FAULT", None)
        if fault:
            env["TESSERA_FAULT"] = fault
        module = f"tessera_{self.name.replace('-', '_')}.main:create_app"
        log = open(self.log_dir / self.log_name, "ab")  # noqa: SIM115 - lives with the process
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                module,
                "--factory",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--no-access-log",
                "--timeout-graceful-shutdown",
                "20",  # as in the images (deploy/docker/Dockerfile)
            ],
            env=env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    async def wait_ready(self, timeout: float = 120) -> None:
        """Ready, and its peers started and ready too (after it: it holds the relay's lease and
        joined the consumer group first, so a fault injected into it is reached)."""
        await self._ready(timeout)
        for peer in self.peers:
            if peer.proc is None or peer.proc.poll() is not None:
                peer.start()
                await peer._ready(timeout)

    async def _ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient() as client:
            while time.monotonic() < deadline:
                assert self.proc is not None
                if self.proc.poll() is not None:
                    raise RuntimeError(f"{self.name} exited with {self.proc.returncode}: see {self.log_dir}")
                try:
                    if (await client.get(f"{self.url}/readyz", timeout=1)).status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.1)
        raise TimeoutError(f"{self.name} not ready in {timeout}s")

    async def wait_killed(self, timeout: float = 30) -> int:
        deadline = time.monotonic() + timeout
        assert self.proc is not None
        while self.proc.poll() is None:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.name} did not die")
            await asyncio.sleep(0.05)
        return self.proc.returncode

    def kill9(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self, timeout: float = 20) -> int | None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        return self.proc.returncode if self.proc else None

    async def metric(self, name: str, **labels: str) -> float:
        """Sum of a Prometheus counter's samples matching ``labels``, over this process and its peers."""
        total = 0.0
        for process in (self, *self.peers):
            if process.proc is not None and process.proc.poll() is None:
                total += await process._metric(name, **labels)
        return total

    async def _metric(self, name: str, **labels: str) -> float:
        async with httpx.AsyncClient() as client:
            text = (await client.get(f"{self.url}/metrics", timeout=5)).text
        total = 0.0
        for line in text.splitlines():
            if not line.startswith(name + "{"):
                continue
            if all(f'{k}="{v}"' in line for k, v in labels.items()):
                total += float(line.rsplit(" ", 1)[1])
        return total


async def scalar(database_url: str, sql: str, *args: object) -> Any:
    conn = await asyncpg.connect(pg_dsn(database_url))
    try:
        return await conn.fetchval(sql, *args)
    finally:
        await conn.close()


async def eventually(predicate, timeout: float = 60, interval: float = 0.1) -> float:
    """Wait for an async predicate; returns the seconds it took."""
    start = time.monotonic()
    while not await predicate():
        if time.monotonic() - start > timeout:
            raise TimeoutError("condition not reached")
        await asyncio.sleep(interval)
    return time.monotonic() - start
