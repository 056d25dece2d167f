"""X-Forwarded-For names the client only when a configured proxy sends it (issue 17, item 6):
the per-address login lock cannot be dodged by sending a new X-Forwarded-For each time."""

from __future__ import annotations

import asyncio
import importlib.util
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

import tessera_gateway.main as gateway_main
from tessera_gateway.main import create_app
from tessera_gateway.settings import GatewaySettings
from tessera_shared.testing.databases import DatabaseFactory
from tessera_shared.testing.plugin import migrations_of, running

ROOT = Path(__file__).resolve().parents[4]


def launcher():
    spec = importlib.util.spec_from_file_location("tessera_launcher", ROOT / "deploy/local/launcher.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


async def failed_logins(client: httpx.AsyncClient, count: int, forwarded: bool = True) -> list[int]:
    """Wrong passwords for a new user name each time, each from a 'new address'."""
    codes = []
    for n in range(count):
        headers = {"X-Forwarded-For": f"203.0.113.{n + 1}"} if forwarded else {}
        r = await client.post(
            "/auth/token",
            headers=headers,
            data={"grant_type": "password", "username": f"nobody{n}", "password": "wrong"},
        )
        codes.append(r.status_code)
    return codes


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_the_launched_gateway_does_not_trust_x_forwarded_for(tmp_path: Path) -> None:
    """The gateway as `make run` starts it (the launcher's uvicorn command line)."""
    module = launcher()
    gateway = next(p for p in module.PROCS if p.name == "gateway")
    port = free_port()
    env = {
        **os.environ,
        "TESSERA_GATEWAY_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'gateway.db'}",
        "TESSERA_GATEWAY_VIEW_CACHE_ENABLED": "false",
        "TESSERA_GATEWAY_LOGIN_MAX_FAILURES": "3",
        "TESSERA_GATEWAY_ENVIRONMENT": "local",
        "TESSERA_GATEWAY_LOG_JSON": "false",
    }
    child = subprocess.Popen(
        module.uvicorn_command(gateway, port),
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if (await client.get("/healthz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline and child.poll() is None, "the gateway did not start"
                await asyncio.sleep(0.2)
            codes = await failed_logins(client, 4)
            assert codes == [400, 400, 400, 429]  # one address (the real peer), locked after 3
    finally:
        child.terminate()
        child.wait(timeout=20)


@pytest.mark.parametrize(("trusted", "locked"), [([], True), (["10.0.0.0/8"], True), (["127.0.0.1"], False)])
async def test_x_forwarded_for_only_from_configured_proxies(
    databases: DatabaseFactory, trusted: list[str], locked: bool
) -> None:
    url = await databases.new("gateway", "postgres", migrations_of(gateway_main.__file__))
    app = create_app(
        GatewaySettings(
            database_url=url, log_json=False, login_max_failures=3, view_cache_enabled=False, trusted_proxies=trusted
        )
    )
    async with running(app) as client:  # the in-process client connects from 127.0.0.1
        codes = await failed_logins(client, 4)
        assert codes[-1] == (429 if locked else 400)
        if not locked:  # the proxy's own address is not what is counted: clients are
            assert (await failed_logins(client, 4, forwarded=False))[-1] == 429
