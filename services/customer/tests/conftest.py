from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

import tessera_customer.main as customer_main
from tessera_customer.settings import CustomerSettings
from tessera_shared.testing.databases import DatabaseFactory
from tessera_shared.testing.plugin import migrations_of, running


@pytest.fixture
async def app(databases: DatabaseFactory, backend: str) -> FastAPI:
    url = await databases.new("customer", backend, migrations_of(customer_main.__file__))
    return customer_main.create_app(CustomerSettings(database_url=url, kafka_enabled=False, log_json=False))


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with running(app) as c:
        yield c
