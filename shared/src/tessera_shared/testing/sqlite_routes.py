"""SQLite, the embedded default of ``make run``, is covered by a focused suite, not by running
every service test twice.

A test that takes the ``backend`` fixture runs on PostgreSQL; marked ``@pytest.mark.sqlite``
(or in a module whose ``pytestmark`` says so) it runs on SQLite too. ``TESSERA_TEST_BACKENDS``
(``postgres,sqlite``) runs every such test on the databases it names, as before.

Which tests are marked is checked, not trusted: every request a test's in-process client makes
(``running(app)``) is recorded with the app's database, and ``--sqlite-routes`` makes the run
fail when an operation of a service app the run started never answered a success on SQLite. ``make
test`` passes it, so a new endpoint without a SQLite-marked test fails CI. ``--sqlite-routes-
report=FILE`` writes, per test, the operations it called on SQLite (to choose tests to mark).
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import pytest
from fastapi import FastAPI, routing
from fastapi.routing import APIRoute

Scope = MutableMapping[str, Any]
ASGI = Callable[[Scope, Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]], Awaitable[None]]

MARKER = "sqlite"
ALL_BACKENDS = ("postgres", "sqlite")
# Operations that touch no database (docs, probes, metrics, schemas): nothing to prove on SQLite.
_NO_DATABASE_TAGS = frozenset({"health", "events", "docs"})
_NO_DATABASE_PATHS = ("/docs", "/redoc", "/openapi", "/metrics", "/healthz", "/readyz", "/livez", "/v1/events/schemas")


def _explicit_backends() -> tuple[str, ...] | None:
    raw = os.environ.get("TESSERA_TEST_BACKENDS")
    return tuple(b for b in raw.split(",") if b) if raw else None


def backends_for(item_marked: bool) -> tuple[str, ...]:
    explicit = _explicit_backends()
    if explicit is not None:
        return explicit
    return ALL_BACKENDS if item_marked else ("postgres",)


def _shape(routes: list[Any]) -> tuple[Any, ...]:
    """The paths and methods of routes as declared, included routers walked (cheap: no route's
    effective context is built)."""
    shape: list[Any] = []
    for route in routes:
        included = getattr(route, "original_router", None)
        if included is not None:
            context = route.include_context
            shape.append((context.prefix, context.include_in_schema, _shape(included.routes)))
        else:
            methods = getattr(route, "methods", None)
            shape.append((type(route).__name__, getattr(route, "path", None), tuple(sorted(methods or ()))))
    return tuple(shape)


class RouteLedger:
    """Operations each service app offers, and those called on SQLite (by which test)."""

    def __init__(self) -> None:
        self.offered: dict[str, set[tuple[str, str]]] = defaultdict(set)
        self.called: dict[str, set[tuple[str, str]]] = defaultdict(set)
        self.by_test: dict[str, set[str]] = defaultdict(set)
        self.current_test = ""
        # Route sets already offered: listing an app's operations builds every route's effective
        # context (~130 ms of a test's setup), while each test builds an app of the same routes.
        self._offered_shapes: set[tuple[str, tuple[Any, ...]]] = set()

    @staticmethod
    def _service_of(app: FastAPI) -> tuple[str, str] | None:
        runtime = getattr(app.state, "runtime", None)
        if runtime is None:
            return None
        backend = "sqlite" if str(runtime.settings.database_url).startswith("sqlite") else "postgres"
        return runtime.spec.name, backend

    def offer(self, app: FastAPI) -> None:
        found = self._service_of(app)
        if found is None:
            return
        shape = (found[0], _shape(app.routes))
        if shape in self._offered_shapes:
            return
        self._offered_shapes.add(shape)
        for context in routing.iter_route_contexts(app.routes):
            route, path = context.original_route, context.path_format
            if not isinstance(route, APIRoute) or not context.include_in_schema or path is None:
                continue
            if _NO_DATABASE_TAGS & set(map(str, route.tags)) or path.startswith(_NO_DATABASE_PATHS):
                continue
            for method in set(context.methods or ()) - {"HEAD", "OPTIONS"}:
                self.offered[found[0]].add((method, path))

    def recording(self, app: FastAPI) -> ASGI:
        """``app`` as an ASGI callable that notes each operation it served on SQLite."""
        found = self._service_of(app)
        if found is None or found[1] != "sqlite":
            return app
        service = found[0]

        async def recorded(scope: Scope, receive: Any, send: Any) -> None:
            status = 0

            async def noting(message: Any) -> None:
                nonlocal status
                if message.get("type") == "http.response.start":
                    status = message["status"]
                await send(message)

            try:
                await app(scope, receive, noting)
            finally:
                route = scope.get("route")
                # Only an answer that did the work counts: a refusal at validation proves no SQL.
                if scope.get("type") == "http" and isinstance(route, APIRoute) and 200 <= status < 400:
                    key = (scope["method"], route.path)
                    self.called[service].add(key)
                    self.by_test[self.current_test].add(f"{service} {key[0]} {key[1]}")

        return recorded

    def dump(self) -> dict[str, Any]:
        return {
            "offered": {k: sorted(v) for k, v in self.offered.items()},
            "called": {k: sorted(v) for k, v in self.called.items()},
            "by_test": {k: sorted(v) for k, v in self.by_test.items() if v},
        }

    def absorb(self, other: dict[str, Any]) -> None:
        for service, ops in other.get("offered", {}).items():
            self.offered[service].update((m, p) for m, p in ops)
        for service, ops in other.get("called", {}).items():
            self.called[service].update((m, p) for m, p in ops)
        for test, ops in other.get("by_test", {}).items():
            self.by_test[test].update(ops)

    def missing(self) -> dict[str, list[str]]:
        out = {}
        for service, offered in sorted(self.offered.items()):
            gaps = sorted(offered - self.called.get(service, set()), key=lambda k: (k[1], k[0]))
            if gaps:
                out[service] = [f"{m} {p}" for m, p in gaps]
        return out


LEDGER = RouteLedger()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("tessera")
    group.addoption(
        "--sqlite-routes",
        action="store_true",
        help="fail the run when an operation of a service app it started was never called on SQLite",
    )
    group.addoption("--sqlite-routes-report", default=None, help="write the operations each test called on SQLite")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", f"{MARKER}: also run this test (its `backend` fixture) on SQLite")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    explicit = any("backend" in str(m.args[0]) for m in metafunc.definition.iter_markers("parametrize") if m.args)
    if "backend" in metafunc.fixturenames and not explicit:
        marked = metafunc.definition.get_closest_marker(MARKER) is not None
        metafunc.parametrize("backend", backends_for(marked), indirect=True)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    LEDGER.current_test = item.nodeid


def _on_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    """pytest-xdist: a worker's ledger joins the controller's, which judges the whole run."""
    raw = getattr(node, "workeroutput", {}).get("sqlite_routes")
    if raw:
        LEDGER.absorb(json.loads(raw))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    if _on_worker(config):
        config.workeroutput["sqlite_routes"] = json.dumps(LEDGER.dump())  # type: ignore[attr-defined]
        return
    report = config.getoption("--sqlite-routes-report")
    if report:
        with open(report, "w") as out:
            json.dump({k: sorted(v) for k, v in LEDGER.by_test.items() if v}, out, indent=1, sort_keys=True)
    if not config.getoption("--sqlite-routes") or config.option.keyword or config.option.markexpr:
        return  # a run narrowed by -k or -m does not claim to call every operation
    missing = LEDGER.missing()
    if missing:  # said even when tests failed; it fails the run only when they did not
        lines = [f"  {service}: {op}" for service, ops in missing.items() for op in ops]
        terminal = config.pluginmanager.get_plugin("terminalreporter")
        message = (
            "operations never called on SQLite (mark a test that calls each with @pytest.mark.sqlite):\n"
            + "\n".join(lines)
        )
        if terminal is not None:
            terminal.write_line(message, red=True)
        if exitstatus == 0:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
