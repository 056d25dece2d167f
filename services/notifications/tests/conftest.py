from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

sys.path.insert(0, str(Path(__file__).parent))  # --import-mode=importlib: make the helpers importable

from notifications_helpers import make_app

from tessera_shared.testing.databases import DatabaseFactory
from tessera_shared.testing.plugin import running


@pytest.fixture
async def app(databases: DatabaseFactory, backend: str) -> FastAPI:
    return await make_app(databases, backend)


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with running(app) as c:
        yield c
