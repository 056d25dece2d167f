"""The suite's files, heaviest first: how ``make test`` keeps its workers busy to the end.

``make test`` gives each of its xdist workers a whole file at a time (``--dist loadfile``), in
the order the files are collected. A file that starts late and runs long leaves the other workers
idle at the end: xdist's own order (most tests first) put the one-test files last, among them
the bench harness's run and the fault suite's process-starting scenarios.

``--heaviest-first=FILE`` orders the collected files by the seconds each took in a recorded run
(a JSON object, file path -> seconds), longest first; a file the record does not know is given
``UNKNOWN_SECONDS_PER_TEST`` per test. Tests keep their order within a file. Every worker sorts
the same collection with the same record, so their collections stay identical, as xdist requires.
``make test`` passes ``--no-loadscope-reorder`` so that xdist keeps this order.

``--record-durations=FILE`` writes such a record at the end of a run (setup, call and teardown of
every test, summed per file); ``make test`` writes ``.data/test-durations.json``, and copying it
over ``tests/durations.json`` refreshes the committed record.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import pytest

# What a file the record does not know is assumed to take, per test (the suite's mean is ~0.3 s).
UNKNOWN_SECONDS_PER_TEST = 0.5

_RECORDED: defaultdict[str, float] = defaultdict(float)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("tessera ordering")
    group.addoption("--heaviest-first", default=None, metavar="FILE", help="run the files longest first, by FILE")
    group.addoption("--record-durations", default=None, metavar="FILE", help="write each file's seconds to FILE")


def file_of(nodeid: str) -> str:
    return nodeid.split("::", 1)[0]


def heaviest_first(items: list[pytest.Item], seconds: dict[str, float]) -> list[pytest.Item]:
    """``items`` grouped by file, the files longest first (ties by path), each file's order kept."""
    files: dict[str, list[pytest.Item]] = {}
    for item in items:
        files.setdefault(file_of(item.nodeid), []).append(item)

    def cost(path: str) -> float:
        known = seconds.get(path)
        return known if known is not None else UNKNOWN_SECONDS_PER_TEST * len(files[path])

    return [item for path in sorted(files, key=lambda p: (-cost(p), p)) for item in files[path]]


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    record = config.getoption("--heaviest-first")
    if not record or not Path(record).exists():
        return
    items[:] = heaviest_first(items, json.loads(Path(record).read_text()))


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    _RECORDED[file_of(report.nodeid)] += report.duration


def pytest_sessionfinish(session: pytest.Session) -> None:
    target = session.config.getoption("--record-durations")
    if not target or hasattr(session.config, "workerinput") or not _RECORDED:
        return  # the controller writes the record: it sees every worker's reports
    Path(target).parent.mkdir(parents=True, exist_ok=True)
    ordered = dict(sorted(((path, round(s, 1)) for path, s in _RECORDED.items()), key=lambda kv: (-kv[1], kv[0])))
    Path(target).write_text(json.dumps(ordered, indent=1) + "\n")
