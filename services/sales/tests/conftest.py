from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from fastapi import FastAPI

import tessera_sales.main as sales_main
from tessera_sales.testing import Api, sales_settings
from tessera_shared.testing.customers import StubCustomers
from tessera_shared.testing.databases import DatabaseFactory
from tessera_shared.testing.plugin import migrations_of, running


@pytest.fixture
async def app(databases: DatabaseFactory, backend: str) -> FastAPI:
    url = await databases.new("sales", backend, migrations_of(sales_main.__file__))
    app = sales_main.create_app(sales_settings(url))
    # Without the customer service: every id is a live customer (tests of §10.2 mark it otherwise).
    app.state.customer_directory = StubCustomers()
    return app


@pytest.fixture
async def api(app: FastAPI) -> AsyncIterator[Api]:
    async with running(app) as client:
        yield Api(app, client)
