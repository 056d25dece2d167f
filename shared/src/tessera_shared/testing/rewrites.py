"""Each test module's assertions rewritten once per run, not once per xdist worker.

pytest rewrites the ``assert`` statements of every test module and conftest it imports (parse,
rewrite, compile: ~7 s of CPU for this suite's files) and keeps the result as a pyc beside the
source, unless ``PYTHONDONTWRITEBYTECODE`` is set, as it is on the machines that run ``make
test``; and on a clean checkout no such pyc exists yet. Every worker collects every file (xdist
requires identical collections), so each of ``make test``'s four workers rewrote all of them at
the same moment: 4 x 7 s of CPU before the first test ran.

Here, before collecting, each worker rewrites the files whose pyc is missing or stale, starting
at its own share of the sorted list (worker k of n at k/n of it) and going round, and writes the
pyc as pytest's own import hook would (same format: a checked-hash pyc, written atomically). A
file another worker already did is skipped, so the work is shared out; then collection imports
every module from its pyc. The pyc goes to ``__pycache__`` beside the source (ignored by git)
whatever ``PYTHONDONTWRITEBYTECODE`` says: it only holds what pytest would compile anyway.

Uses pytest's assertion-rewrite internals (``_rewrite_test``, ``_read_pyc``, ``_write_pyc``),
pinned with pytest in the workspace lock; ``test_rewrites.py`` checks that a worker's pyc is the
one pytest's hook then reads.
"""

from __future__ import annotations

import fnmatch
import os
from pathlib import Path

import pytest
from _pytest.assertion import rewrite

SKIPPED_DIRS = {".venv", "node_modules", "__pycache__", ".git", ".local", ".data"}


def rewritten_files(config: pytest.Config) -> list[Path]:
    """The files under the run's paths that pytest's hook rewrites on import: test modules (by
    ``python_files``) and conftests, sorted."""
    patterns = [*config.getini("python_files"), "conftest.py"]
    found: set[Path] = set()
    for arg in config.args:
        root = Path(config.invocation_params.dir, arg.split("::", 1)[0]).resolve()
        if root.is_file():
            candidates = [root]
        elif root.is_dir():
            candidates = []
            for folder, dirs, files in os.walk(root):
                dirs[:] = [d for d in dirs if d not in SKIPPED_DIRS]
                candidates += [Path(folder, f) for f in files if f.endswith(".py")]
        else:
            continue
        found.update(p for p in candidates if any(fnmatch.fnmatch(p.name, pattern) for pattern in patterns))
    return sorted(found)


def share(files: list[Path], index: int, count: int) -> list[Path]:
    """``files`` starting at worker ``index``'s share of ``count``, going round."""
    start = len(files) * index // max(count, 1)
    return files[start:] + files[:start]


def warm(config: pytest.Config, files: list[Path]) -> int:
    """Rewrite and write the pyc of each file of ``files`` that has no valid one; how many."""
    state = config.stash[rewrite.assertstate_key]
    done = 0
    for path in files:
        cache_dir = rewrite.get_cache_dir(path)
        pyc = cache_dir / (path.name[:-3] + rewrite.PYC_TAIL)
        if rewrite._read_pyc(path, pyc) is not None:
            continue
        try:
            source_hash, code = rewrite._rewrite_test(path, config)
        except SyntaxError:
            continue  # collection reports it
        if rewrite.try_makedirs(cache_dir) and rewrite._write_pyc(state, code, source_hash, pyc):
            done += 1
    return done


@pytest.hookimpl(tryfirst=True)
def pytest_collection(session: pytest.Session) -> None:
    config = session.config
    worker = getattr(config, "workerinput", None)
    if worker is None or config.getoption("assertmode") != "rewrite":
        return
    index = int(str(worker["workerid"]).removeprefix("gw") or 0)
    warm(config, share(rewritten_files(config), index, int(worker["workercount"])))
