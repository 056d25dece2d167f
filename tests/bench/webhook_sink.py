"""The partner's receiver for `make bench` row 13: answers every POST 200 at once and keeps each
arrival's wall-clock time per path; ``GET /stats?path=/u`` tells the count and the times.

    python tests/bench/webhook_sink.py <port>
"""

from __future__ import annotations

import sys
import time
from urllib.parse import unquote

import orjson
import uvicorn
from starlette.types import Receive, Scope, Send

ARRIVALS: dict[str, list[float]] = {}


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] != "http":
        return
    while True:  # the body is read (and dropped), as a receiver does
        message = await receive()
        if not message.get("more_body"):
            break
    path = scope["path"]
    if scope["method"] == "GET" and path == "/stats":
        wanted = unquote(scope["query_string"].decode().removeprefix("path="))
        times = ARRIVALS.get(wanted, [])
        body = orjson.dumps({"count": len(times), "times": times})
    else:
        ARRIVALS.setdefault(path, []).append(time.time())
        body = b"ok"
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"%d" % len(body))]})
    await send({"type": "http.response.body", "body": body})


if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", access_log=False)
