"""The stub customer service of tests/bench/hop.py: what the customer service answers to a GET by
id (a customer and its headers), canned, at no cost of its own. Imports nothing heavy, so that
it starts at once."""

from __future__ import annotations

import json
from typing import Any

BODY = json.dumps(
    {
        "id": "00000000-0000-0000-0000-000000000000",
        "kind": "person",
        "name": "Ada Lovelace",
        "email": "ada@example.com",
        "phone": None,
        "status": "prospect",
        "owner_id": None,
        "tags": [],
        "version": 1,
        "created_at": "2026-11-24T08:00:00Z",
        "updated_at": "2026-11-24T08:00:00Z",
    }
).encode()
HEADERS = [
    (b"content-type", b"application/json"),
    (b"content-length", str(len(BODY)).encode()),
    (b"etag", b'W/"1"'),
    (b"cache-control", b"private, no-store"),
    (b"x-content-type-options", b"nosniff"),
    (b"x-request-id", b"0123456789abcdef0123456789abcdef"),
    (b"x-tessera-route", b"/v1/customers/{customer_id}"),
]


async def upstream(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """The stub customer service (ASGI): one canned answer for every request."""
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": BODY})
