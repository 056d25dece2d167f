from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

import tessera_service_desk.main as desk_main
from tessera_service_desk.settings import ServiceDeskSettings
from tessera_shared.testing.customers import StubCustomers
from tessera_shared.testing.databases import DatabaseFactory
from tessera_shared.testing.plugin import migrations_of, running

# Test modules import desk_helpers (builders); --import-mode=importlib leaves this folder off sys.path.
sys.path.insert(0, str(Path(__file__).parent))


async def desk_app(databases: DatabaseFactory, backend: str, **overrides: Any) -> FastAPI:
    url = await databases.new("service-desk", backend, migrations_of(desk_main.__file__))
    settings: dict[str, Any] = {
        "database_url": url,
        "kafka_enabled": False,
        "log_json": False,
        "jobs_enabled": False,
        **overrides,
    }
    app = desk_main.create_app(ServiceDeskSettings(**settings))
    # Without the customer service: every id is a live customer (tests of §10.2 mark it otherwise).
    app.state.customer_directory = StubCustomers()
    return app


@pytest.fixture
async def app(databases: DatabaseFactory, backend: str) -> FastAPI:
    return await desk_app(databases, backend)


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with running(app) as c:
        yield c
