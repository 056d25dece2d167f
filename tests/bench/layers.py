"""Where a service GET by id spends its CPU: the layers of row 2, each measured in process.

    .venv/bin/python tests/bench/layers.py --pg postgresql+asyncpg://postgres@127.0.0.1:55432 [--requests 3000]

Run by the harness beside rows 2 and 3 (and usable alone). Each layer is driven by raw ASGI calls
in this process (no sockets, no HTTP parsing: those cost the same for every layer, about 33 us a
request on this machine) and is the CPU time per request of the median of three passes:

- the bare FastAPI app of row 1;
- the customer service's own app, GET /healthz: the shared middleware (request id, trace
  context, metrics, body limits, NUL check) and the first route;
- the same app, a constant body behind the role check the customer routes use, as the last of
  the service's routes (an upper bound for route matching);
- the service's GET /v1/customers/{id} as served: since Round 8a the fast read before the
  router (principal and role, the row from the driver, audit row written behind the request,
  ETag, the JSON by orjson);
- the database alone: the same row by asyncpg, one connection, statement prepared.

Prints one JSON object (microseconds of CPU per request). Works in a scratch database of its own
(tests/bench/scratch.py), dropped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Annotated, Any

import asyncpg
from fastapi import FastAPI

from tessera_customer.customers.router import READERS
from tessera_customer.main import create_app
from tessera_customer.settings import CustomerSettings
from tessera_shared.auth import Principal, require_roles

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from bare_app import create_app as bare_app  # noqa: E402
from scratch import scratch_database  # noqa: E402


async def constant(thing_id: str, principal: Annotated[Principal, require_roles(*READERS)]) -> dict[str, Any]:
    """Row 1's body behind the customer routes' role check."""
    return {
        "id": thing_id,
        "kind": "person",
        "name": "Ada Lovelace",
        "email": "ada@example.com",
        "status": "prospect",
        "version": 1,
    }


async def call(
    app: Any, path: str, tok: str, method: str = "GET", body: bytes = b"", extra: Sequence[tuple[bytes, bytes]] = ()
) -> tuple[int, bytes]:
    """One request through the app's ASGI interface, as uvicorn would make it (``extra``: more headers)."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"bench"),
            (b"authorization", f"Bearer {tok}".encode()),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            *extra,
        ],
        "client": ("127.0.0.1", 40000),
        "server": ("127.0.0.1", 8001),
    }
    status, chunks, sent = 0, [], False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            await asyncio.Event().wait()  # like a client that keeps the connection open
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, send)
    return status, b"".join(chunks)


async def cpu_per_call(fn: Callable[[int], Awaitable[Any]], n: int) -> float:
    """Microseconds of this process's CPU per call: median of three passes after a warm-up."""
    for i in range(max(n // 10, 50)):
        await fn(i)
    passes = []
    for _ in range(3):
        start = time.process_time()
        for i in range(n):
            await fn(i)
        passes.append((time.process_time() - start) / n * 1e6)
    return statistics.median(passes)


async def measure(server: str, n: int) -> dict[str, float]:
    out: dict[str, float] = {}
    bare: FastAPI = bare_app()

    async def bare_get(i: int) -> None:
        assert (await call(bare, f"/v1/things/{i}", "-"))[0] == 200

    out["bare"] = await cpu_per_call(bare_get, n)

    async with scratch_database(server, "customer") as db:
        app = create_app(
            CustomerSettings(
                database_url=db.url, kafka_enabled=False, jobs_enabled=False, log_json=False, log_level="WARNING"
            )
        )
        app.add_api_route("/v1/bench-layers/{thing_id}", constant, methods=["GET"], include_in_schema=False)
        async with app.router.lifespan_context(app):
            tok = app.state.token_codec.issue("bench", ["sales_rep"])
            ids = []
            for i in range(200):
                body = json.dumps({"kind": "person", "name": f"Layer {i}", "email": f"layer{i}@example.com"}).encode()
                status, raw = await call(app, "/v1/customers", tok, "POST", body)
                assert status == 201, raw
                ids.append(json.loads(raw)["id"])

            async def healthz(i: int) -> None:
                assert (await call(app, "/healthz", tok))[0] == 200

            async def role_checked(i: int) -> None:
                assert (await call(app, f"/v1/bench-layers/{i}", tok))[0] == 200

            async def get_customer(i: int) -> None:
                assert (await call(app, f"/v1/customers/{ids[i % len(ids)]}", tok))[0] == 200

            out["service_middleware"] = await cpu_per_call(healthz, n)
            out["routing_and_role"] = await cpu_per_call(role_checked, n)
            out["get_by_id"] = await cpu_per_call(get_customer, n)

        conn = await asyncpg.connect(db.dsn)
        try:
            stmt = await conn.prepare("SELECT * FROM customers WHERE id = $1")
            keys = [uuid.UUID(x) for x in ids]

            async def fetch(i: int) -> None:
                assert await stmt.fetchrow(keys[i % len(keys)]) is not None

            out["database_alone"] = await cpu_per_call(fetch, n)
        finally:
            await conn.close()
    return {k: round(v, 1) for k, v in out.items()}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--pg", required=True, help="PostgreSQL server URL, postgresql+asyncpg://user@host:port")
    p.add_argument("--requests", type=int, default=3000, help="requests per pass (three passes per layer)")
    args = p.parse_args()
    print(json.dumps(asyncio.run(measure(args.pg.rstrip("/"), args.requests))))


if __name__ == "__main__":
    main()
