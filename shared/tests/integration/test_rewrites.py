"""The suite's workers share out the rewriting of the test modules' assertions, and pytest then
imports each module from the pyc a worker wrote, assertion messages intact; ``make test`` names
every pytest plugin installed."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

from tessera_shared.testing.rewrites import share

ROOT = Path(__file__).resolve().parents[3]
MAKEFILE_PLUGINS = re.compile(r"-p ([\w.]+)")


def test_each_worker_starts_at_its_own_share_and_goes_round() -> None:
    files = [Path(f"t{i}.py") for i in range(8)]
    assert share(files, 0, 4)[:2] == [Path("t0.py"), Path("t1.py")]
    assert share(files, 2, 4) == [Path(f"t{i}.py") for i in [4, 5, 6, 7, 0, 1, 2, 3]]
    assert sorted(share(files, 3, 4)) == sorted(files)
    assert share([], 1, 4) == []


def test_workers_write_each_modules_rewritten_pyc_once_and_pytest_imports_it(tmp_path: Path) -> None:
    (tmp_path / "conftest.py").write_text('pytest_plugins = ["tessera_shared.testing.rewrites"]\n')
    for i in range(6):
        (tmp_path / f"test_m{i}.py").write_text(f"def test_ok():\n    assert {i} == {i}\n")
    (tmp_path / "test_fails.py").write_text("def test_no():\n    x = [1, 2]\n    assert x == [1, 3]\n")
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "xdist.plugin", "-n", "2", "-p", "no:cacheprovider", str(tmp_path)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    # The failing assertion still explains itself: the module ran from a rewritten pyc.
    assert "1 failed, 6 passed" in run.stdout, run.stdout + run.stderr
    assert "At index 1 diff: 2 != 3" in run.stdout, run.stdout
    written = {p.name.split(".")[0] for p in (tmp_path / "__pycache__").glob("*-pytest-*.pyc")}
    assert written == {"conftest", "test_fails", *(f"test_m{i}" for i in range(6))}
    # A second run reads them (a stale or missing pyc is written again, so none is added).
    before = {p: p.stat().st_mtime_ns for p in (tmp_path / "__pycache__").glob("*.pyc")}
    subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "xdist.plugin", "-n", "2", "-p", "no:cacheprovider", str(tmp_path)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        timeout=120,
    )
    assert {p: p.stat().st_mtime_ns for p in (tmp_path / "__pycache__").glob("*.pyc")} == before


def test_make_test_names_every_installed_pytest_plugin_but_platformdirs() -> None:
    named = set(MAKEFILE_PLUGINS.findall((ROOT / "Makefile").read_text()))
    installed = {ep.value for ep in entry_points(group="pytest11")} - {"platformdirs.pytest_plugin"}
    assert installed <= named, installed - named
