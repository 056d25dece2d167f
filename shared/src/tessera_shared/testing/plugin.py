"""Pytest fixtures for every test suite (registered by the root ``conftest.py``).

Tests talk to the real PostgreSQL and Kafka that ``make test`` starts (ports 55432 and
19092, apart from a running ``make run``). A missing server fails the test run loudly:
nothing here skips.
"""

from __future__ import annotations

import asyncio
import os
import socket
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

import httpx
import pytest
from aiokafka.admin import AIOKafkaAdminClient
from fastapi import FastAPI

from tessera_shared.testing.databases import DatabaseFactory
from tessera_shared.testing.fastapi_routes import share_route_builds
from tessera_shared.testing.sqlite_routes import (  # the hooks of the focused SQLite suite
    LEDGER,
    pytest_addoption,
    pytest_configure,
    pytest_generate_tests,
    pytest_runtest_setup,
    pytest_testnodedown,
)
from tessera_shared.testing.sqlite_routes import pytest_sessionfinish as _sqlite_routes_sessionfinish

__all__ = [
    "pytest_addoption",
    "pytest_configure",
    "pytest_generate_tests",
    "pytest_runtest_setup",
    "pytest_sessionfinish",
    "pytest_testnodedown",
    "pytest_unconfigure",
]

PG_URL = os.environ.get("TESSERA_TEST_PG", "postgresql+asyncpg://postgres@127.0.0.1:55432")
KAFKA = os.environ.get("TESSERA_TEST_KAFKA", "127.0.0.1:19092")

share_route_builds()  # each test's app reuses the routes' dependency trees and response fields


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
    with _timed("drop databases (handed to a detached process)"):
        factory.drop_all_detached()


@pytest.fixture
def backend(request: pytest.FixtureRequest) -> str:
    """The database of a service test: PostgreSQL, and SQLite too for tests marked ``sqlite``
    (parametrised by ``sqlite_routes.pytest_generate_tests``)."""
    name: str = request.param
    return name


# Namespaces handed out in this session: their topics are deleted when the session ends.
_NAMESPACES: list[str] = []


def new_namespace(prefix: str = "t") -> str:
    """A topic namespace of its own (also for stacks started outside the fixture), cleaned up
    at the end of the session."""
    ns = f"{prefix}{uuid.uuid4().hex[:10]}."
    _NAMESPACES.append(ns)
    return ns


# Ports apart per pytest-xdist worker: tests that start real processes on a block of ports
# (the make-run launcher, the fault suite) run on both workers at once without meeting.
WORKER_PORT_STRIDE = 500


def worker_port(base: int) -> int:
    """``base`` moved to this xdist worker's own block (gw0 keeps it, gw1 adds 500, ...)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    index = int(worker[2:]) if worker.startswith("gw") and worker[2:].isdigit() else 0
    return base + WORKER_PORT_STRIDE * index


@pytest.fixture
def namespace() -> Iterator[str]:
    """A topic namespace of the test's own, so tests never see each other's events."""
    yield new_namespace()


@pytest.fixture(scope="session", autouse=True)
def _delete_session_topics() -> Iterator[None]:
    """Every test namespace makes a dozen topics; a broker kept between runs would collect them
    until it runs out of file descriptors (one directory and several files per partition)."""
    yield
    if _NAMESPACES and _reachable(KAFKA):
        with _timed(f"delete the topics of {len(_NAMESPACES)} namespaces"):
            asyncio.run(delete_topics_with_prefixes(KAFKA, tuple(_NAMESPACES)))


@contextmanager
def _timed(what: str) -> Iterator[None]:
    """How long a session clean-up took, appended to ``TESSERA_TEST_TEARDOWN_LOG`` when it is set
    (a worker's session teardown is charged to its last test in ``--durations``)."""
    started = time.monotonic()
    yield
    log = os.environ.get("TESSERA_TEST_TEARDOWN_LOG")
    if log:
        worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
        with open(log, "a") as f:
            f.write(f"{worker}\t{what}\t{time.monotonic() - started:.2f}s\n")


async def delete_topics_with_prefixes(bootstrap: str, prefixes: tuple[str, ...]) -> int:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        doomed = sorted(t for t in await admin.list_topics() if t.startswith(prefixes))
        for start in range(0, len(doomed), 200):
            await admin.delete_topics(doomed[start : start + 200], timeout_ms=60_000)
        return len(doomed)
    finally:
        await admin.close()


@asynccontextmanager
async def running(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """Run the app's lifespan (migrations, relay, consumer) and give an in-process client."""
    async with app.router.lifespan_context(app):
        LEDGER.offer(app)
        transport = httpx.ASGITransport(app=LEDGER.recording(app))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client


def bearer(app: FastAPI, subject: str, *roles: str, kind: str = "user") -> dict[str, str]:
    token = app.state.token_codec.issue(subject, roles, kind=kind)
    return {"Authorization": f"Bearer {token}"}


def migrations_of(module_file: str | None) -> Path:
    """The migrations beside a service's module (``main.__file__``, which typing says may be None)."""
    if module_file is None:
        raise TypeError("a module without a file has no migrations beside it")
    return Path(module_file).parent / "migrations"


# The exit status of the session, as the last sessionfinish hook left it (the SQLite ledger may
# have failed the run).
_EXIT_STATUS: list[int] = []


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    _sqlite_routes_sessionfinish(session, exitstatus)
    _EXIT_STATUS.append(int(session.exitstatus))


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    """End the process once pytest is done, without the interpreter's own shutdown.

    After a full run the heap holds ~1.5 GB (a thousand app starts' worth of modules, pools and
    caches); the interpreter's finalisation then spent 20-60 s joining leftover worker threads
    and freeing it object by object (measured: 109 s wall for 84 s of tests), time in which
    nothing is tested. Reports are written and streams flushed by now; ``TESSERA_TEST_FULL_EXIT=1``
    keeps the normal shutdown (e.g. to look for threads a test leaves behind)."""
    if os.environ.get("TESSERA_TEST_FULL_EXIT") == "1" or not _EXIT_STATUS or hasattr(config, "workerinput"):
        return  # an xdist worker still has its results to hand to the controller
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(_EXIT_STATUS[-1])
