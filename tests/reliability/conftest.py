from __future__ import annotations

import importlib
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tessera_shared.kafka import contract_topics, ensure_topics
from tessera_shared.testing.databases import DatabaseFactory
from tessera_shared.testing.plugin import migrations_of

from .stack import ServiceProcess

# Reduced in `make test`; `make reliability` runs the full size and writes docs/reliability.md.
SCALE = int(os.environ.get("TESSERA_RELIABILITY_N", "20"))
# Processes of each service in the single-process scenarios (make reliability: 2, every scenario
# with a healthy peer beside the process it breaks; make test: 1, and test_replicas.py is the
# bounded two-replica run).
REPLICAS = int(os.environ.get("TESSERA_RELIABILITY_REPLICAS", "1"))
REPORT: list[dict[str, object]] = []
ROOT = Path(__file__).resolve().parents[2]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "reliability: fault scenarios with real processes")


class Stack:
    def __init__(self, databases: DatabaseFactory, bootstrap: str, namespace: str, log_dir: Path) -> None:
        self.databases = databases
        self.bootstrap = bootstrap
        self.namespace = namespace
        self.log_dir = log_dir
        self.services: dict[str, ServiceProcess] = {}

    async def add(self, name: str) -> ServiceProcess:
        main = importlib.import_module(f"tessera_{name.replace('-', '_')}.main")
        url = await self.databases.new(name, "postgres", migrations_of(main.__file__))
        svc = ServiceProcess(name, url, self.bootstrap, self.namespace, self.log_dir)
        # Peers share the scenario's extra environment (one dict), never its faults.
        svc.peers = [
            ServiceProcess(name, url, self.bootstrap, self.namespace, self.log_dir, extra_env=svc.extra_env, replica=r)
            for r in range(1, REPLICAS)
        ]
        self.services[name] = svc
        return svc

    def stop_all(self) -> None:
        for svc in self.services.values():
            for process in (svc, *svc.peers):
                process.stop(timeout=10)


@pytest.fixture
async def stack(
    databases: DatabaseFactory, kafka_bootstrap: str, namespace: str, tmp_path: Path
) -> AsyncIterator[Stack]:
    await ensure_topics(kafka_bootstrap, contract_topics(namespace), partitions=3)
    s = Stack(databases, kafka_bootstrap, namespace, tmp_path)
    try:
        yield s
    finally:
        s.stop_all()


def record(scenario: str, **figures: object) -> None:
    REPORT.append({"scenario": scenario, **figures})
    print(f"\n[reliability] {scenario}: " + ", ".join(f"{k}={v}" for k, v in figures.items()))


def pytest_sessionfinish(session: pytest.Session) -> None:
    target = os.environ.get("TESSERA_RELIABILITY_REPORT")
    if not target or not REPORT:
        return
    cols = ["scenario", "produced", "applied", "lost", "duplicated", "redelivered", "copies", "recovery_s"]
    lines = [
        "# Reliability: fault scenarios",
        "",
        f"Measured by `make reliability` (tests/reliability, {SCALE} events per scenario) with real",
        "service processes, the real Kafka broker and real PostgreSQL. `duplicated` counts effects",
        "applied twice (must be 0); `redelivered` counts deliveries the inbox (or a version check)",
        "turned away; `copies` counts messages on the topic beyond one per event (re-sent by a relay:",
        "consumers turn them away, partners reading the topic see them). `recovery_s`: from the",
        "restart (or the kill, with replicas) to every effect applied; for SIGTERM the drain time;",
        "for the 360 view the slowest answer with a service dead; for a frozen relay holder the",
        "publish stall (first write to every effect applied); across gateways the time until the",
        "other gateway shows the write. A killed consumer's partitions move after its Kafka",
        'session (3 s, docs/operations.md "Consumer groups and rejoin").',
        "",
        f"Processes per service: {REPLICAS} (`TESSERA_RELIABILITY_REPLICAS`). With 2, every scenario",
        "runs a healthy peer on the same database and consumer group beside the process it breaks",
        '(tests/reliability/stack.py). The scenarios named "2 replicas" run the make-run launcher',
        "with `--replicas 2` on PostgreSQL (tests/reliability/test_replicas.py): two processes of",
        "every service and of the gateway, the launcher restarting what is killed.",
        "",
        "| " + " | ".join(cols) + " |",
        "| " + " | ".join("---" for _ in cols) + " |",
    ]
    for row in REPORT:
        lines.append("| " + " | ".join(str(row.get(c, "")) for c in cols) + " |")
    Path(target).write_text("\n".join(lines) + "\n")
