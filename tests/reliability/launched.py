"""The `make run` launcher at N replicas, driven from a test: start, find, kill -9, freeze, restart.

The launcher is the process manager here (it restarts what exits, balances the well-known ports
over ready replicas and names every process in ``stack.json``), so the scenarios only signal
processes and watch the databases; they never start services themselves.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from tessera_shared.testing.kafka import read_topic

from .stack import scalar

ROOT = Path(__file__).resolve().parents[2]
# The well-known ports: base + offset (the balancer when replicas > 1).
OFFSETS = {"gateway": 0, "customer": 1, "sales": 2, "service-desk": 3, "billing": 4, "notifications": 5}


class LaunchedStack:
    def __init__(
        self,
        *,
        base_port: int,
        replicas: int,
        pg_server_url: str,
        bootstrap: str,
        namespace: str,
        data_dir: Path,
        env: dict[str, str] | None = None,
    ) -> None:
        self.base_port = base_port
        self.replicas = replicas
        self.pg_server_url = pg_server_url.rstrip("/")
        self.bootstrap = bootstrap
        self.namespace = namespace
        self.data_dir = data_dir
        self.env = env or {}
        self.db_prefix = f"rep{uuid.uuid4().hex[:8]}_"
        self.proc: subprocess.Popen[bytes] | None = None
        self._out = data_dir / "launcher.out"

    # --- lifecycle -------------------------------------------------------------------------

    def start(self, timeout: float = 180) -> None:
        args = [
            sys.executable,
            str(ROOT / "deploy/local/launcher.py"),
            "--replicas",
            str(self.replicas),
            "--database",
            "postgres",
            "--postgres-url",
            f"{self.pg_server_url}/postgres",
            "--db-prefix",
            self.db_prefix,
            "--base-port",
            str(self.base_port),
            "--data-dir",
            str(self.data_dir),
            "--kafka-bootstrap",
            self.bootstrap,
            "--namespace",
            self.namespace,
            "--quiet",
        ]
        for name, value in self.env.items():
            args += ["--env", f"{name}={value}"]
        out = open(self._out, "wb")  # noqa: SIM115 - lives with the launcher
        self.proc = subprocess.Popen(args, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while "Tessera CRM is running" not in self.output():
            if self.proc.poll() is not None:
                raise RuntimeError(f"launcher exited:\n{self.output()}\n{self.logs_tail()}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"stack not ready in {timeout} s:\n{self.output()}")
            time.sleep(0.2)

    def stop(self) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()  # the services follow it (parent-death signal)
                self.proc.wait(10)
        return self.proc.returncode

    async def drop_databases(self) -> None:
        conn = await asyncpg.connect(self.dsn("postgres"))
        try:
            for name in await conn.fetch("SELECT datname FROM pg_database WHERE datname LIKE $1", self.db_prefix + "%"):
                await conn.execute(f'DROP DATABASE IF EXISTS "{name["datname"]}" WITH (FORCE)')
        finally:
            await conn.close()

    def output(self) -> str:
        return self._out.read_text(errors="replace") if self._out.exists() else ""

    def logs_tail(self, chars: int = 2000) -> str:
        logs = sorted((self.data_dir / "logs").glob("*.log"))
        return "\n".join(f"--- {p.name}\n{p.read_text()[-chars:]}" for p in logs)

    # --- processes -------------------------------------------------------------------------

    def processes(self) -> list[dict[str, Any]]:
        return json.loads((self.data_dir / "stack.json").read_text())["processes"]

    def process(self, name: str) -> dict[str, Any]:
        return next(p for p in self.processes() if p["name"] == name)

    def url(self, name: str) -> str:
        """``gateway``/``customer``...: the balanced well-known port; ``gateway-2``: that replica."""
        if name in OFFSETS:
            return f"http://127.0.0.1:{self.base_port + OFFSETS[name]}"
        return f"http://127.0.0.1:{self.process(name)['port']}"

    def name_of_pid(self, pid: int) -> str | None:
        return next((p["name"] for p in self.processes() if p["pid"] == pid), None)

    def kill9(self, name: str) -> int:
        pid = int(self.process(name)["pid"])
        signal_pid(pid, signal.SIGKILL)
        return pid

    def freeze(self, name: str) -> int:
        pid = int(self.process(name)["pid"])
        signal_pid(pid, signal.SIGSTOP)
        return pid

    def thaw(self, pid: int) -> None:
        signal_pid(pid, signal.SIGCONT)

    async def wait_restarted(self, name: str, old_pid: int, timeout: float = 60) -> float:
        """Seconds until the launcher's new process for ``name`` answers ``/readyz``."""
        started = time.monotonic()
        async with httpx.AsyncClient() as client:
            while time.monotonic() - started < timeout:
                proc = self.process(name)
                if proc["pid"] != old_pid:
                    try:
                        if (await client.get(f"http://127.0.0.1:{proc['port']}/readyz", timeout=1)).status_code == 200:
                            return time.monotonic() - started
                    except httpx.HTTPError:
                        pass
                await asyncio.sleep(0.1)
        raise TimeoutError(f"{name} not restarted in {timeout} s")

    # --- databases ---------------------------------------------------------------------------

    def dsn(self, database: str) -> str:
        return f"{self.pg_server_url}/{database}".replace("postgresql+asyncpg://", "postgresql://")

    def service_dsn(self, service: str) -> str:
        return self.dsn(f"{self.db_prefix}{service.replace('-', '_')}")

    async def fetchval(self, service: str, sql: str, *args: object) -> Any:
        return await scalar(self.service_dsn(service), sql, *args)


async def topic_copies(bootstrap: str, topic: str, event_type: str, subjects: list[str]) -> int:
    """How many more messages of ``event_type`` about ``subjects`` the topic holds than events
    (the copies a relay re-sent; consumers turn them away, partners reading the topic see them)."""
    wanted = set(subjects)
    events = [json.loads(r.value or b"{}") for r in await read_topic(bootstrap, topic, timeout=60)]
    mine = [e["id"] for e in events if e.get("type") == event_type and e.get("subject") in wanted]
    return len(mine) - len(set(mine))


def signal_pid(pid: int, sig: signal.Signals) -> None:
    os.kill(pid, sig)
