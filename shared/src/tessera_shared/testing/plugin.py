"""Pytest fixtures for every test suite (registered by the root ``conftest.py``).

Tests talk to the real PostgreSQL and Kafka that ``make test`` starts (ports 55432 and
19092, apart from a running ``make run``). A missing server fails the test run loudly:
nothing here skips.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from tessera_shared.testing.databases import DatabaseFactory

PG_URL = os.environ.get("TESSERA_TEST_PG", "postgresql+asyncpg://postgres@127.0.0.1:55432")
KAFKA = os.environ.get("TESSERA_TEST_KAFKA", "127.0.0.1:19092")


def _reachable(host_port: str) -> bool:
    host, _, port = host_port.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=2):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def pg_server_url() -> str:
    host_port = PG_URL.split("@", 1)[1].split("/", 1)[0]
    if not _reachable(host_port):
        pytest.fail(f"PostgreSQL is not reachable at {host_port}: run the suite with `make test`")
    return PG_URL


@pytest.fixture(scope="session")
def kafka_bootstrap() -> str:
    if not _reachable(KAFKA):
        pytest.fail(f"Kafka is not reachable at {KAFKA}: run the suite with `make test`")
    return KAFKA


@pytest.fixture(scope="session")
async def databases(pg_server_url: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[DatabaseFactory]:
    factory = DatabaseFactory(pg_server_url, tmp_path_factory.mktemp("sqlite"))
    yield factory
    await factory.drop_all()


@pytest.fixture(params=["postgres", "sqlite"])
def backend(request: pytest.FixtureRequest) -> str:
    """Run the test on both databases the services support."""
    return request.param


@pytest.fixture
def namespace() -> Iterator[str]:
    """A topic namespace of the test's own, so tests never see each other's events."""
    yield f"t{uuid.uuid4().hex[:10]}."


@asynccontextmanager
async def running(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """Run the app's lifespan (migrations, relay, consumer) and give an in-process client."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client


def bearer(app: FastAPI, subject: str, *roles: str, kind: str = "user") -> dict[str, str]:
    token = app.state.token_codec.issue(subject, roles, kind=kind)  # type: ignore[arg-type]
    return {"Authorization": f"Bearer {token}"}


def migrations_of(module_file: str) -> Path:
    return Path(module_file).parent / "migrations"
