"""The gateway's hop over HTTP: CPU per forwarded GET of a gateway served by uvicorn.

    .venv/bin/python tests/bench/hop_http.py [--pg postgresql+asyncpg://postgres@127.0.0.1:55432] \
        [--seconds 6] [--runs 2]

The gateway (uvicorn, uvloop, httptools, as deployed; its own scratch database, Kafka and the
view cache off) forwards `GET /api/v1/customers/{id}` to the stub upstream of hop.py
(`hop_upstream.py`, another uvicorn process). wrk (one thread pinned to the last CPU, 32
connections, tests/bench/wrk.lua) drives it after a 3 s warm-up; the gateway's CPU per request
is its process's utime+stime (`/proc/<pid>/stat`) over each run divided by the requests wrk
counted. Unlike hop.py this includes uvicorn's HTTP work for the client's request and the
gateway's per-second background work (pollers), charged to the requests of the run. Prints one
JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from scratch import scratch_database  # noqa: E402

SERVER = ["--no-access-log", "--loop", "uvloop", "--http", "httptools", "--log-level", "warning"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def listening(port: int) -> None:
    for _ in range(600):
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        await asyncio.sleep(0.1)
    raise RuntimeError(f"nothing listens on {port}")


def wrk(port: int, token: str, ids: Path, seconds: float) -> dict[str, Any]:
    cmd = ["taskset", "-c", str((os.cpu_count() or 2) - 1), "wrk", "-t1", "-c32", f"-d{seconds:g}s"]
    cmd += ["-s", str(HERE / "wrk.lua"), f"http://127.0.0.1:{port}", "--", "/api/v1/customers/%s", token]
    cmd += ["GET", str(ids), "-", "-"]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    result: dict[str, Any] = json.loads(out.split("BENCHJSON", 1)[1].strip().splitlines()[0])
    return result


async def measure(pg: str, seconds: float, runs: int, work: Path) -> dict[str, Any]:
    from tessera_gateway.settings import GatewaySettings
    from tessera_shared.app import token_codec

    upstream_port, gateway_port = free_port(), free_port()
    stub_cmd = [sys.executable, "-m", "uvicorn", "hop_upstream:upstream", "--app-dir", str(HERE), *SERVER]
    stub_cmd += ["--port", str(upstream_port)]
    stub = subprocess.Popen(stub_cmd)
    try:
        async with scratch_database(pg, "gateway") as db:
            url = f"http://127.0.0.1:{upstream_port}"
            env = {
                **os.environ,
                "TESSERA_GATEWAY_DATABASE_URL": db.url,
                "TESSERA_GATEWAY_KAFKA_ENABLED": "false",
                "TESSERA_GATEWAY_VIEW_CACHE_ENABLED": "false",
                "TESSERA_GATEWAY_RATE_LIMIT_PER_MINUTE": "100000000",
                "TESSERA_GATEWAY_LOG_LEVEL": "WARNING",
            }
            env.update({f"TESSERA_GATEWAY_{s}_URL": url for s in ("CUSTOMER", "SALES", "SERVICE_DESK", "BILLING")})
            env["TESSERA_GATEWAY_NOTIFICATIONS_URL"] = url
            cmd = [sys.executable, "-m", "uvicorn", "tessera_gateway.main:create_app", "--factory", *SERVER]
            cmd += ["--port", str(gateway_port), "--no-proxy-headers"]
            gateway = subprocess.Popen(cmd, env=env)
            try:
                await listening(upstream_port)
                await listening(gateway_port)
                await asyncio.sleep(2)
                token = token_codec(GatewaySettings()).issue("bench", ["admin"])
                ids = work / "hop_http_ids.txt"
                ids.write_text("\n".join(str(uuid.uuid4()) for _ in range(200)))
                wrk(gateway_port, token, ids, 3)
                rows = []
                for _ in range(runs):
                    before = cpu_seconds(gateway.pid)
                    r = wrk(gateway_port, token, ids, seconds)
                    used = cpu_seconds(gateway.pid) - before
                    rows.append(
                        {
                            "gateway_us_cpu_per_get": round(used / r["requests"] * 1e6, 1),
                            "req_s": round(r["requests"] / r["duration_us"] * 1e6, 1),
                            "status_errors": r["status_errors"],
                        }
                    )
                return {"runs": rows, "loadavg": round(os.getloadavg()[0], 2)}
            finally:
                gateway.terminate()
                gateway.wait(10)
    finally:
        stub.terminate()
        stub.wait(10)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--pg", default=os.environ.get("TESSERA_TEST_PG", "postgresql+asyncpg://postgres@127.0.0.1:55432"))
    p.add_argument("--seconds", type=float, default=6)
    p.add_argument("--runs", type=int, default=2)
    p.add_argument("--work", type=Path, default=Path(os.environ.get("TMPDIR", "/tmp")))
    args = p.parse_args()
    print(json.dumps(asyncio.run(measure(args.pg.rstrip("/"), args.seconds, args.runs, args.work))))


if __name__ == "__main__":
    main()
