"""Schemathesis against every service's OpenAPI and the gateway's merged one, with every check:
the machinery; the tests are ``test_fuzz_<target>.py``, a file per target so that the suite's
workers (a whole file each) share them out.

One test per target, and per operation of its document one test item (``test_sales[POST
/v1/deals]``): each service on its own (SQLite), and the gateway with its merged document (what
a generated client uses), forwarding to the four services in process (PostgreSQL, through
httpx2 mounts), so every operation is fuzzed on both backends and through the gateway. Each
app gets a fresh, migrated database of its own, Kafka and background jobs off; the services'
own outbound URLs (the sales service's customer look-ups) point at a closed port, which must
not be a 5xx either.

Schemathesis calls the app over ASGI (its lifespan runs once per target, ``Persistent``; the gateway's starts the
services') with an admin token on every request, in three phases: the schema's examples,
coverage (boundary values, every way each field can be wrong, and methods a path does not
declare) and fuzzing (random valid and invalid data, ``MAX_EXAMPLES`` per operation); through
the gateway, the operations it forwards to a service skip the coverage phase, which their
service's own target runs (``_config``). The seed is fixed and generation derandomised, so a run
is the same on every machine; no deadline.

Checks: all of schemathesis's (``CHECKS``): no 5xx, every status, content type, body and
header as documented, invalid data refused (4xx), valid data accepted, 405 with ``Allow`` for an
undeclared method, 401 without a token. Where a check's expected statuses are widened, the
configuration below says why.

Why the schema is loaded from each app's ``openapi()`` at import rather than from a fixture:
``schemathesis.pytest.from_fixture`` (4.32) sets ``Function._nodeid``, which pytest 9.2 no
longer has. The document is the one the app serves at ``/openapi.json``.
"""

from __future__ import annotations

import asyncio
import fcntl
import functools
import hashlib
import inspect
import json
import os
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import httpx2
import pytest
import schemathesis
import schemathesis.pytest._test_builder as test_builder
from fastapi import FastAPI
from hypothesis import HealthCheck, settings

from tessera_gateway.views.openapi import merge
from tessera_shared.testing.customers import StubCustomers
from tessera_shared.testing.databases import DatabaseFactory
from tessera_shared.testing.plugin import bearer, migrations_of

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))
from service_apps import main_module, settings_class

SOURCES = Path(__file__).resolve().parents[2]

# Nothing listens there: connections are refused at once.
UNREACHABLE = "http://127.0.0.1:9"
SEED = 20_261_123
MAX_EXAMPLES = 10
FORWARDED_EXAMPLES = 5  # per operation the gateway forwards (its service's target runs MAX_EXAMPLES)
SERVICES = ["customer", "sales", "service-desk", "billing", "notifications"]
# Every check schemathesis 4 has (the stateful ones, use_after_free, ensure_resource_availability
# and object_level_authorization, need the stateful phase and links: they pass vacuously here).
CHECKS = [
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "response_headers_conformance",
    "negative_data_rejection",
    "positive_data_acceptance",
    "missing_required_header",
    "unsupported_method",
    "allow_header_conformance",
    "ignored_auth",
    "use_after_free",
    "ensure_resource_availability",
    "object_level_authorization",
]

# (service, database backend): each pair is one test below; "gateway" is the merged stack.
TARGETS = [(service, "sqlite") for service in SERVICES] + [("gateway", "postgres")]

# The customer import takes NDJSON (its schema: a string); send the string as it is.
schemathesis.serializer.alias("application/x-ndjson", "text/plain")


def _settings_for(service: str, database_url: str, **extra: Any) -> Any:
    settings_cls = settings_class(service)
    fields = settings_cls.model_fields
    urls: dict[str, Any] = {
        name: UNREACHABLE
        for name in ("customer_url", "sales_url", "service_desk_url", "billing_url", "notifications_url", "gateway_url")
        if name in fields
    }
    if "rate_limit_per_minute" in fields:  # the gateway's per-token limit is not what is tested here
        urls["rate_limit_per_minute"] = 1_000_000
    if "view_cache_enabled" in fields:
        urls["view_cache_enabled"] = False
    if "stream_max_seconds" in fields:  # the notifications' live stream: short, so each call ends
        urls.update(stream_max_seconds=0.2, stream_poll_seconds=0.05)
    return settings_cls(
        database_url=database_url,
        kafka_enabled=False,
        jobs_enabled=False,
        log_json=False,
        run_migrations_on_start=False,
        **{**urls, **extra},
    )


def build(service: str, database_url: str) -> FastAPI:
    app = main_module(service).create_app(_settings_for(service, database_url))
    if hasattr(app.state, "customer_directory"):
        # A write naming a customer the service does not know reads it through the customer service
        # (docs/domain.md §10.2), which is not part of one service's fuzzing: every id is a live
        # customer here (the refusals are tested in each service's test_known_customers_rule.py).
        app.state.customer_directory = StubCustomers()
    return app


def _host(service: str) -> str:
    return f"http://{service}.test"


class Stack:
    """The gateway forwarding to the five services in process: one ASGI app whose lifespan
    starts the services, then the gateway."""

    def __init__(self, gateway: FastAPI, services: list[FastAPI]) -> None:
        self.gateway = gateway
        self.services = services
        self.state = gateway.state
        self.router = self  # ``lifespan_context`` as a FastAPI app's router has it

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        await self.gateway(scope, receive, send)  # ``Persistent`` answers the lifespan

    @asynccontextmanager
    async def lifespan_context(self, _: Any) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            for app in [*self.services, self.gateway]:
                await stack.enter_async_context(app.router.lifespan_context(app))
            yield


class Persistent:
    """An app whose lifespan runs once for a whole target, not once per operation.

    Schemathesis starts an ASGI app's lifespan on the first call of an item and shuts it down
    when the item ends (its ``pytest_runtest_teardown``), so every operation restarted the app:
    for the gateway's stack five services and the gateway, its merged OpenAPI document fetched
    and rebuilt, ~0.25 s each of 218 operations. Here the app's own lifespan starts on the first
    startup message, in a task of schemathesis's event loop (one for the process, so the app's
    pools stay on it), and each item's startup and shutdown are answered without touching it;
    ``close`` (the module fixture's teardown) ends it. The database was already one per target."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.state = app.state
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop = asyncio.Event()
        self._held: asyncio.Task[None] | None = None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "lifespan":
            await self.app(scope, receive, send)
            return
        await receive()  # lifespan.startup
        if self._held is None:
            self._loop = asyncio.get_running_loop()
            started = asyncio.Event()
            self._held = asyncio.create_task(self._hold(started))
            waiting = asyncio.create_task(started.wait())
            await asyncio.wait({self._held, waiting}, return_when=asyncio.FIRST_COMPLETED)
            waiting.cancel()
            if self._held.done():
                self._held.result()  # the startup's failure, raised here
        await send({"type": "lifespan.startup.complete"})
        await receive()  # lifespan.shutdown: the app keeps running until ``close``
        await send({"type": "lifespan.shutdown.complete"})

    async def _hold(self, started: asyncio.Event) -> None:
        async with self.app.router.lifespan_context(self.app):
            started.set()
            await self._stop.wait()

    async def close(self) -> None:
        if self._held is None or self._loop is None:
            return

        async def stop() -> None:
            assert self._held is not None
            self._stop.set()
            await self._held

        await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(stop(), self._loop))


def build_stack(urls: dict[str, str]) -> Stack:
    services = {s: build(s, urls[s]) for s in SERVICES}
    mounts = {_host(s): httpx2.ASGITransport(app=app) for s, app in services.items()}
    gateway = main_module("gateway").create_app(
        _settings_for("gateway", urls["gateway"], **{f"{s.replace('-', '_')}_url": _host(s) for s in SERVICES}),
        mounts=mounts,
    )
    return Stack(gateway, list(services.values()))


def _document(service: str) -> dict[str, Any]:
    """The document ``service`` serves at /openapi.json (a fresh copy each time)."""
    return json.loads(_documents()[service])


def _build_documents() -> dict[str, str]:
    built = {s: json.dumps(build(s, "sqlite+aiosqlite:///:memory:").openapi()) for s in SERVICES}
    gateway = build("gateway", "sqlite+aiosqlite:///:memory:")
    own = gateway.state.own_openapi()
    built["gateway-own-paths"] = json.dumps(sorted(own["paths"]))
    built["gateway"] = json.dumps(merge(own, {s: json.loads(built[s]) for s in SERVICES}))
    return built


@functools.cache
def _documents() -> dict[str, str]:
    """Every target's document, built by the first of the suite's workers to get here and read
    from its file by the others (each worker collects every fuzz file; building the six documents
    is ~3 s of CPU). The file is named by a digest of what the documents are made of: the
    services' and the shared library's sources, the locked dependencies, the apps' modules and
    settings (tools/service_apps.py, this module) and the TESSERA_ environment; a new digest's
    file replaces the others."""
    digest = hashlib.sha256()
    for path in sorted([*SOURCES.glob("shared/src/**/*.py"), *SOURCES.glob("services/*/src/**/*.py")]):
        digest.update(str(path.relative_to(SOURCES)).encode() + b"\0" + path.read_bytes() + b"\0")
    digest.update((SOURCES / "uv.lock").read_bytes() + (SOURCES / "tools/service_apps.py").read_bytes())
    digest.update(Path(__file__).read_bytes())
    digest.update(repr(sorted((k, v) for k, v in os.environ.items() if k.startswith("TESSERA_"))).encode())
    cache = SOURCES / ".data" / "fuzz-documents" / f"{digest.hexdigest()[:32]}.json"
    cache.parent.mkdir(parents=True, exist_ok=True)
    with open(cache.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # the others wait for the first to write the file
        if cache.exists():
            documents: dict[str, str] = json.loads(cache.read_text())
            return documents
        built = _build_documents()
        for stale in cache.parent.iterdir():  # documents of sources since changed, and their locks
            if stale.stem != cache.stem:
                stale.unlink(missing_ok=True)
        partial = cache.with_suffix(f".{os.getpid()}")
        partial.write_text(json.dumps(built))
        partial.replace(cache)
        return built


_CONFIG = {
    "seed": SEED,
    "generation": {
        "mode": "all",  # valid and invalid data
        "max-examples": MAX_EXAMPLES,
        "deterministic": True,
        "database": "none",
        # The token is set on each call: a security parameter generated here would replace it.
        "with-security-parameters": False,
    },
    "phases": {"stateful": {"enabled": False}},
    "checks": {
        "enabled": False,
        **{name: {"enabled": True} for name in CHECKS},
        # Schema-valid data a rule beyond JSON Schema refuses (a date range the wrong way round, a
        # billing dispute without its invoice): 422 names the field, as documented.
        # A body over the size limit is refused before it is read: 413 is a rejection too.
        "negative_data_rejection": {
            "enabled": True,
            "expected-statuses": ["400", "401", "403", "404", "405", "406", "409", "413", "415", "422", "428", "429"],
        },
        "positive_data_acceptance": {
            "enabled": True,
            "expected-statuses": ["2xx", "3xx", "401", "403", "404", "409", "412", "422", "429"],
        },
    },
}


def apps_for(target: tuple[str, str]) -> Any:
    """A module-scoped fixture ``apps``: the app of ``target`` on fresh databases of its own, built on
    first use (the gateway's stack: the gateway and every service)."""

    @pytest.fixture(scope="module")
    async def apps(databases: DatabaseFactory) -> AsyncIterator[Callable[[tuple[str, str]], Any]]:
        service, backend = target
        members = [*SERVICES, "gateway"] if service == "gateway" else [service]
        urls = {m: await databases.new(m, backend, migrations_of(main_module(m).__file__)) for m in members}
        built: dict[tuple[str, str], Persistent] = {}

        def get(wanted: tuple[str, str]) -> Any:
            assert wanted == target, wanted
            if wanted not in built:
                built[wanted] = Persistent(build_stack(urls) if service == "gateway" else build(service, urls[service]))
            return built[wanted]

        yield get
        for app in built.values():
            await app.close()

    return apps


_build_now = test_builder.build_operation_test


def _build_on_first_call(**build: Any) -> Callable[..., None]:
    """An operation's test as schemathesis's collector makes it, built when the item first runs.

    Building the Hypothesis test computes the operation's coverage cases (every boundary and every
    way each field can be wrong): ~10 s of CPU for one service's document, ~4 times that for the
    gateway's, and each of the suite's workers collects every file while only one runs it. The
    item takes the same fixtures (the test's parameters but ``case``), and once built it carries
    the built test's schemathesis marks, which the plugin reads when the call ends; a malformed
    definition fails the item when it runs instead of at collection.
    """
    built: list[Callable[..., None]] = []
    parameters = inspect.signature(build["test_func"]).parameters

    def test(**fixtures: Any) -> None:
        if not built:
            built.append(_build_now(**build))
            marks = getattr(built[0], "_schemathesis_metadata", None)
            if marks is not None:
                test._schemathesis_metadata = marks  # type: ignore[attr-defined]
        built[0](**fixtures)

    test.__signature__ = inspect.Signature([p for name, p in parameters.items() if name != "case"])  # type: ignore[attr-defined]
    return test


# The pytest plugin looks the builder up each time it makes an operation's item.
test_builder.build_operation_test = _build_on_first_call


def _config(service: str, document: dict[str, Any]) -> dict[str, Any]:
    """The gateway's operations forwarded to a service skip the coverage phase: each service's
    own target runs it on every one of them (every boundary, every way each field can be wrong:
    ~85 % of a target's calls), and the gateway forwards a refusal whatever its operation. Through
    the gateway they get the schema's examples and ``FORWARDED_EXAMPLES`` of the fuzzing phase
    (valid and invalid data, every check); the gateway's own operations get all three phases."""
    if service != "gateway":
        return _CONFIG
    own = set(json.loads(_documents()["gateway-own-paths"]))
    forwarded = sorted(set(document["paths"]) - own)
    lighter = {"phases": {"coverage": {"enabled": False}}, "generation": {"max-examples": FORWARDED_EXAMPLES}}
    return _CONFIG | {"operations": [{"include-path": forwarded, **lighter}]}


def _fuzz(target: tuple[str, str]) -> Callable[..., None]:
    service, _ = target
    document = _document(service)
    schema = schemathesis.openapi.from_dict(document, config=schemathesis.Config.from_dict(_config(service, document)))

    @schema.parametrize()
    @settings(deadline=None, suppress_health_check=list(HealthCheck), print_blob=False)
    def test(case: schemathesis.Case, apps: Callable[[tuple[str, str]], Any]) -> None:
        app = apps(target)
        headers = bearer(app, "fuzz-admin", "admin")
        response = case.call(app=app, headers=headers)
        case.validate_response(response, headers=headers)

    return test
