"""A database that refuses connections is a 503 with Retry-After at every service and the gateway,
not a 500 (issue 17, item 9): only a connection broken mid-request used to be."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

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
from tessera_shared.http.errors import database_unreachable
from tessera_shared.testing.builders import customer_payload
from tessera_shared.testing.plugin import bearer

APPS: dict[str, tuple[Callable[..., FastAPI], Callable[..., Any], list[str]]] = {
    "customer": (
        customer_main.create_app,
        CustomerSettings,
        ["/v1/customers", f"/v1/customers/{uuid.uuid4()}", "/v1/segments"],
    ),
    "sales": (sales_main.create_app, SalesSettings, ["/v1/deals", f"/v1/deals/{uuid.uuid4()}", "/v1/leads"]),
    "service-desk": (desk_main.create_app, ServiceDeskSettings, ["/v1/tickets", f"/v1/tickets/{uuid.uuid4()}"]),
    "billing": (billing_main.create_app, BillingSettings, ["/v1/invoices", f"/v1/invoices/{uuid.uuid4()}"]),
    "gateway": (gateway_main.create_app, GatewaySettings, ["/api/v1/audit-log"]),
}


def closed_port() -> int:
    """A port on which nothing listens (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("name", list(APPS))
async def test_a_database_that_refuses_connections_is_a_503(name: str, caplog: pytest.LogCaptureFixture) -> None:
    make, settings_cls, paths = APPS[name]
    url = f"postgresql+asyncpg://postgres@127.0.0.1:{closed_port()}/tessera"
    extra = {"view_cache_enabled": False} if name == "gateway" else {"jobs_enabled": False}
    app = make(settings_cls(database_url=url, kafka_enabled=False, log_json=False, **extra))
    # Without the lifespan (whose migrations need the database): the process taken as up, the database refusing.
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        admin = bearer(app, "admin", "admin")
        for path in paths:
            r = await client.get(path, headers=admin)
            assert r.status_code == 503, (path, r.status_code, r.text[:300])
            assert r.headers["retry-after"] == "1"
            assert r.json()["type"] == "urn:tessera:problem:service-unavailable"
        if name == "customer":
            r = await client.post("/v1/customers", json=customer_payload(), headers=admin)
            assert (r.status_code, r.headers.get("retry-after")) == (503, "1"), r.text[:300]
    assert not [r for r in caplog.records if r.levelname == "ERROR" and "unhandled" in r.getMessage()]


def test_what_counts_as_unreachable(tmp_path) -> None:
    # SQLite: a database file that cannot be opened (here: a directory).
    with pytest.raises(OperationalError) as err, create_engine(f"sqlite:///{tmp_path}").connect() as c:
        c.execute(text("select 1"))
    assert database_unreachable(err.value)
    # An OSError that never went through the database code is not the database's.
    assert not database_unreachable(ConnectionRefusedError(111, "refused"))
    assert not database_unreachable(ValueError("x"))
