"""The image's one-shot migrator (compose `run`, the Kubernetes Job) and its init-container wait."""

from __future__ import annotations

import importlib.util
import sys
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from tests.ops.conftest import PROCS, ROOT, Proc

pytestmark = pytest.mark.timeout(60)


@cache
def migrate() -> Any:
    spec = importlib.util.spec_from_file_location("tessera_image_migrate", ROOT / "deploy/docker/migrate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_migrator_knows_every_service_and_its_settings() -> None:
    assert {name: pkg for name, (pkg, _) in migrate().SERVICES.items()} == {p.name: p.package for p in PROCS}
    for proc in PROCS:
        assert migrate().SERVICES[proc.name][1] == proc.settings
        assert (migrate().migrations_dir(proc.name) / "env.py").is_file()


def test_migrator_needs_a_name_where_several_services_are_installed() -> None:
    with pytest.raises(SystemExit):
        migrate().installed_service()


@pytest.mark.parametrize("proc", PROCS, ids=lambda p: p.name)
def test_wait_fails_on_an_empty_database_then_passes_after_the_migration(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, proc: Proc
) -> None:
    monkeypatch.setenv(f"{proc.prefix}DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}")
    assert migrate().main([proc.name, "--wait", "0"]) == 1
    assert migrate().main([proc.name]) == 0
    assert migrate().main([proc.name]) == 0, "a second run finds nothing to do"
    assert migrate().main([proc.name, "--wait", "0"]) == 0
