"""Cursors are signed and checked against the order columns: one the API did not issue is a 422
naming ``cursor`` on every list of every service and the gateway, never a 500 (issue 17, item 3)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import re
import socket
import uuid
from typing import Any
from urllib.parse import quote

import orjson
import pytest
import uvicorn
from fastapi import FastAPI

import tessera_billing.main as billing_main
import tessera_customer.main as customer_main
import tessera_gateway.main as gateway_main
import tessera_sales.main as sales_main
import tessera_service_desk.main as desk_main
from tessera_billing.settings import BillingSettings
from tessera_customer.settings import CustomerSettings
from tessera_gateway.settings import GatewaySettings
from tessera_sales.settings import SalesSettings
from tessera_service_desk.settings import ServiceDeskSettings
from tessera_shared.http.pagination import _signature, encode_cursor, list_scope
from tessera_shared.testing.builders import customer_payload
from tessera_shared.testing.databases import DatabaseFactory
from tessera_shared.testing.plugin import bearer, migrations_of, running

SERVICES = {
    "customer": (customer_main, CustomerSettings),
    "sales": (sales_main, SalesSettings),
    "service-desk": (desk_main, ServiceDeskSettings),
    "billing": (billing_main, BillingSettings),
}


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def forged(values: list[Any], key: bytes = b"not the key") -> str:
    """The shape of a real cursor, signed with another key."""
    raw = orjson.dumps(values)
    return b64(hmac.new(key, raw, hashlib.sha256).digest()[:12] + raw)


def signed(raw: bytes, scope: bytes) -> str:
    """Raw JSON signed with this API's key for a list (what only a bug of ours could issue)."""
    return b64(_signature(raw, scope) + raw)


def crafted(scope: bytes, issued: str | None = None) -> dict[str, str]:
    """Cursors this API did not issue, by what is wrong with them. Those signed with this API's
    key are signed for the list they are sent to (``scope``), so their values are what is refused."""
    cursors = {
        "unsigned ['x'] (the report's)": "WyJ4Il0",
        "unsigned uuid": b64(orjson.dumps([{"u": str(uuid.uuid4())}])),
        "unsigned wrong length": b64(orjson.dumps([1, 2, 3])),
        "unsigned wrong tags": b64(orjson.dumps([{"t": 5}])),
        "garbage base64": "%%%garbage",
        "not base64 at all": "!!!",
        "non-ascii": "cürsor",
        "empty list": b64(b"[]"),
        "other key": forged([{"u": str(uuid.uuid4())}]),
        # Signed with this API's key, but values the order columns cannot take: full validation.
        "signed text for a uuid": encode_cursor(["x"], scope),
        "signed nul": encode_cursor(["a\x00b"], scope),
        "signed int64 overflow": signed(b"[123456789012345678901234567890]", scope),
        "signed float": signed(b"[1.5]", scope),
        "signed nested": encode_cursor([[1, 2]], scope),
        "signed wrong length": encode_cursor([str(uuid.uuid4()), 1, 2], scope),
        "signed for another list": encode_cursor([str(uuid.uuid4())], list_scope("/v1/elsewhere", [])),
    }
    if issued:
        blob = bytearray(base64.urlsafe_b64decode(issued + "=" * (-len(issued) % 4)))
        blob[-3] ^= 0x01  # a value changed, the signature kept
        cursors["tampered"] = b64(bytes(blob))
    return cursors


def lists_of(app: FastAPI) -> list[str]:
    """Every GET that takes ``cursor``, from the app's OpenAPI document."""
    return sorted(
        path
        for path, ops in app.openapi()["paths"].items()
        if any(p["name"] == "cursor" for p in ops.get("get", {}).get("parameters", []))
    )


@pytest.fixture
async def apps(databases: DatabaseFactory, backend: str) -> dict[str, FastAPI]:
    made = {}
    for name, (module, settings_cls) in SERVICES.items():
        url = await databases.new(name, backend, migrations_of(module.__file__))
        made[name] = module.create_app(
            settings_cls(database_url=url, kafka_enabled=False, jobs_enabled=False, log_json=False)
        )
    gw_db = await databases.new("gateway", backend, migrations_of(gateway_main.__file__))
    made["gateway"] = gateway_main.create_app(
        GatewaySettings(database_url=gw_db, log_json=False, view_cache_enabled=False)
    )
    return made


async def test_every_list_refuses_crafted_cursors_with_422(apps: dict[str, FastAPI]) -> None:
    checked = []
    for name, app in apps.items():
        async with running(app) as client:
            admin = bearer(app, "admin", "admin")
            customer_id = None
            if name == "customer":
                r = await client.post("/v1/customers", json=customer_payload(), headers=admin)
                customer_id = r.json()["id"]
            for path in lists_of(app):
                exists = "{" not in path or (customer_id and re.fullmatch(r"[^{]*\{customer_id\}[^{]*", path))
                url = re.sub(r"\{customer_id\}", customer_id or str(uuid.uuid4()), path)
                url = re.sub(r"\{[^}]+\}", str(uuid.uuid4()), url)
                for what, cursor in crafted(list_scope(url, [])).items():
                    r = await client.get(url, params={"cursor": cursor}, headers=admin)
                    assert r.status_code != 500, (name, path, what, r.text)
                    if exists:
                        assert r.status_code == 422, (name, path, what, r.status_code, r.text)
                        assert r.json()["errors"][0]["field"] == "cursor", (name, path, what, r.text)
                        checked.append((name, path))
                # The name search pages in (name_key, id): a uuid-first cursor does not fit it.
                if path == "/v1/customers":
                    cursor = encode_cursor([uuid.uuid4()], list_scope(url, [("q", "a")]))
                    r = await client.get(url, params={"q": "a", "cursor": cursor}, headers=admin)
                    assert r.status_code == 422, r.text
    lists = {path for _, path in checked}
    # The lists the report names, each refused (not merely not a 500).
    for path in (
        "/v1/customers",
        "/v1/deals",
        "/v1/leads",
        "/v1/tickets",
        "/v1/invoices",
        "/v1/write-offs",
        "/api/v1/audit-log",
        "/v1/customers/{customer_id}/timeline",
        "/v1/reports/aging",
    ):
        assert path in lists, (path, sorted(lists))


async def test_issued_cursors_walk_and_tampered_ones_are_refused(apps: dict[str, FastAPI]) -> None:
    app = apps["customer"]
    async with running(app) as client:
        admin = bearer(app, "admin", "admin")
        made = [
            (await client.post("/v1/customers", json=customer_payload(), headers=admin)).json()["id"] for _ in range(3)
        ]
        first = (await client.get("/v1/customers", params={"limit": 1}, headers=admin)).json()
        second = await client.get("/v1/customers", params={"limit": 1, "cursor": first["next_cursor"]}, headers=admin)
        assert second.status_code == 200 and second.json()["items"][0]["id"] == sorted(made)[1]
        for what, cursor in crafted(list_scope("/v1/customers", []), first["next_cursor"]).items():
            r = await client.get("/v1/customers", params={"cursor": cursor}, headers=admin)
            assert (r.status_code, r.json()["errors"][0]["field"]) == (422, "cursor"), (what, r.text)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def _exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, target: str, token: str
) -> tuple[int, bytes]:
    writer.write(f"GET {target} HTTP/1.1\r\nHost: t\r\nAuthorization: {token}\r\n\r\n".encode())
    await writer.drain()
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))  # type: ignore[union-attr]
    body = await reader.readexactly(length)
    return int(head.split()[1]), body


async def test_a_refused_cursor_leaves_the_connection_usable(apps: dict[str, FastAPI]) -> None:
    """On a real server: the audit log's answer to a crafted cursor, then another request on the
    same keep-alive connection (a 500 made uvicorn close it under the next request)."""
    gateway = apps["gateway"]
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(gateway, host="127.0.0.1", port=port, log_config=None, lifespan="on"))
    task = asyncio.create_task(server.serve())
    try:
        for _ in range(200):
            if server.started:
                break
            await asyncio.sleep(0.05)
        token = bearer(gateway, "admin", "admin")["Authorization"]
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        for what, cursor in crafted(list_scope("/api/v1/audit-log", [])).items():
            status, body = await _exchange(reader, writer, f"/api/v1/audit-log?cursor={quote(cursor)}", token)
            assert status == 422, (what, body)
            assert orjson.loads(body)["errors"][0]["field"] == "cursor"
            status, body = await _exchange(reader, writer, "/api/v1/audit-log?limit=1", token)
            assert status == 200, (what, body)
        writer.close()
    finally:
        server.should_exit = True
        await task
