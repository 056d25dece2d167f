"""The gateway's hop, in process: CPU per forwarded GET with the upstream in another process.

    .venv/bin/python tests/bench/hop.py --pg postgresql+asyncpg://postgres@127.0.0.1:55432 \
        [--requests 3000] [--concurrency 32] [--profile out.prof]

The gateway's app (its own database, a scratch one, migrated; Kafka off) forwards
`GET /api/v1/customers/{id}` over real sockets to a stub upstream (uvicorn, another process)
that answers what the customer service answers (a customer, its headers: ETag, X-Tessera-Route,
Cache-Control...) at no cost of its own. Requests go through the gateway's ASGI interface in
this process, ``--concurrency`` at a time, so what is measured is the gateway's own CPU per
forwarded GET (this process's ``time.process_time``): token, rate limit, route, headers, the
upstream call, response, audit row and metrics; not uvicorn's HTTP parsing of the client's
request (~35 us, row 1). Median of three passes after a warm-up. ``--profile`` writes a cProfile
of one more pass. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import os
import socket
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from layers import call  # noqa: E402
from scratch import scratch_database  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def measure(pg: str, n: int, concurrency: int, profile: Path | None) -> dict[str, Any]:

    from tessera_gateway.main import create_app
    from tessera_gateway.settings import GatewaySettings

    port = free_port()
    stub = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "hop_upstream:upstream",
            "--app-dir",
            str(HERE),
            "--port",
            str(port),
            "--no-access-log",
            "--loop",
            "uvloop",
            "--http",
            "httptools",
            "--log-level",
            "warning",
        ]
    )
    try:
        for _ in range(600):
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            await asyncio.sleep(0.1)
        async with scratch_database(pg, "gateway") as db:
            url = f"http://127.0.0.1:{port}"
            settings = GatewaySettings(
                database_url=db.url,
                kafka_enabled=False,
                jobs_enabled=False,
                log_json=False,
                log_level="WARNING",
                view_cache_enabled=False,
                rate_limit_per_minute=100_000_000,
                customer_url=url,
                sales_url=url,
                service_desk_url=url,
                billing_url=url,
                notifications_url=url,
            )
            app = create_app(settings)
            async with app.router.lifespan_context(app):
                tok = app.state.token_codec.issue("bench", ["admin"])
                ids = [str(uuid.uuid4()) for _ in range(200)]

                async def one(i: int) -> None:
                    status, raw = await call(app, f"/api/v1/customers/{ids[i % len(ids)]}", tok)
                    assert status == 200, raw

                async def run_pass(count: int) -> float:
                    queue = iter(range(count))

                    async def worker() -> None:
                        for i in queue:
                            await one(i)

                    start = time.process_time()
                    await asyncio.gather(*(worker() for _ in range(concurrency)))
                    return (time.process_time() - start) / count * 1e6

                await run_pass(max(n // 5, 200))
                passes = [await run_pass(n) for _ in range(3)]
                out: dict[str, Any] = {"gateway_us_per_get": round(statistics.median(passes), 1)}
                out["passes"] = [round(p, 1) for p in passes]
                if profile is not None:
                    prof = cProfile.Profile(time.process_time)
                    prof.enable()
                    await run_pass(n)
                    prof.disable()
                    prof.dump_stats(profile)
                return out
    finally:
        stub.terminate()
        stub.wait(10)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--pg", default=os.environ.get("TESSERA_TEST_PG", "postgresql+asyncpg://postgres@127.0.0.1:55432"))
    p.add_argument("--requests", type=int, default=3000)
    p.add_argument("--concurrency", type=int, default=32)
    p.add_argument("--profile", type=Path, default=None)
    args = p.parse_args()
    import uvloop

    result = uvloop.run(measure(args.pg.rstrip("/"), args.requests, args.concurrency, args.profile))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
