"""The customer service's GET /v1/customers/{id} in process: CPU per request, and where it goes.

    .venv/bin/python tests/bench/read_path.py --pg postgresql+asyncpg://postgres@127.0.0.1:55432 \
        [--requests 3000] [--concurrency 32] [--profile out.prof]

The customer service's app (a scratch database of its own, migrated; Kafka and jobs off) answers
``GET /v1/customers/{id}`` with a bearer token through its ASGI interface in this process,
``--concurrency`` requests at a time (as row 2's 32 connections), over 200 customers with tags,
channels, custom attributes and segmentation. What is measured is this process's CPU
(``time.process_time``) per request, median of three passes after a warm-up: everything of the
service's but uvicorn's HTTP parsing and socket work (~35 us, row 1). ``--profile`` writes a
cProfile (on the process CPU clock) of one more pass. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from layers import call  # noqa: E402
from scratch import scratch_database  # noqa: E402


def customer_body(i: int) -> bytes:
    return json.dumps(
        {
            "kind": "person" if i % 2 else "organization",
            "name": f"Read Path {i}",
            "email": f"read{i}@example.com",
            "phone": "+44 20 7946 0000",
            "tags": ["vip", f"t{i % 7}"],
            "channels": [{"kind": "postal", "value": f"{i} Main St", "label": "home"}],
            "segmentation": {"geographic": {"country": "GB", "city": "London"}},
            "custom_attributes": {"source": "bench", "n": i},
        }
    ).encode()


async def measure(pg: str, n: int, concurrency: int, profile: Path | None, fast: bool) -> dict[str, Any]:
    from tessera_customer.main import create_app
    from tessera_customer.settings import CustomerSettings

    async with scratch_database(pg, "customer") as db:
        app = create_app(
            CustomerSettings(
                database_url=db.url,
                kafka_enabled=False,
                jobs_enabled=False,
                log_json=False,
                log_level="WARNING",
                **({} if fast else {"fast_reads": False}),  # type: ignore[arg-type]
            )
        )
        async with app.router.lifespan_context(app):
            tok = app.state.token_codec.issue("bench", ["sales_rep"])
            ids = []
            for i in range(200):
                status, raw = await call(app, "/v1/customers", tok, "POST", customer_body(i))
                assert status == 201, raw
                ids.append(json.loads(raw)["id"])
            paths = [f"/v1/customers/{ids[i % len(ids)]}" for i in range(n)]

            async def one_pass(count: int) -> float:
                queue = iter(paths[:count])

                async def worker() -> None:
                    for path in queue:
                        status, raw = await call(app, path, tok)
                        assert status == 200, raw

                start = time.process_time()
                await asyncio.gather(*(worker() for _ in range(concurrency)))
                return (time.process_time() - start) / count * 1e6

            await one_pass(max(n // 10, 100))
            passes = [await one_pass(n) for _ in range(3)]
            out: dict[str, Any] = {
                "passes": [round(p, 1) for p in passes],
                "us_per_request": round(statistics.median(passes), 1),
            }
            if profile is not None:
                prof = cProfile.Profile(time.process_time)
                prof.enable()
                await one_pass(n)
                prof.disable()
                prof.dump_stats(str(profile))
            return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--pg", required=True, help="PostgreSQL server URL, postgresql+asyncpg://user@host:port")
    p.add_argument("--requests", type=int, default=3000, help="requests per pass (three passes)")
    p.add_argument("--concurrency", type=int, default=32)
    p.add_argument("--profile", type=Path, help="write a cProfile of one more pass here")
    p.add_argument("--no-fast-reads", action="store_true", help="every GET through FastAPI's router")
    args = p.parse_args()
    result = asyncio.run(
        measure(args.pg.rstrip("/"), args.requests, args.concurrency, args.profile, not args.no_fast_reads)
    )
    with open("/proc/loadavg") as f:
        result["load_average"] = f.read().split()[0]
    print(json.dumps(result))


if __name__ == "__main__":
    main()
