"""The suite's files go out longest first, each file's tests in their own order."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tessera_shared.testing.ordering import UNKNOWN_SECONDS_PER_TEST, heaviest_first


@dataclass
class Item:
    nodeid: str


def _order(nodeids: list[str], seconds: dict[str, float]) -> list[str]:
    items: list[Any] = [Item(n) for n in nodeids]
    return [i.nodeid for i in heaviest_first(items, seconds)]


def test_files_go_longest_first_and_keep_their_tests_in_order() -> None:
    nodeids = ["a.py::t1", "a.py::t2", "b.py::T::t1", "c.py::t1", "b.py::T::t2"]
    assert _order(nodeids, {"a.py": 1.0, "b.py": 30.0, "c.py": 5.0}) == [
        "b.py::T::t1",
        "b.py::T::t2",
        "c.py::t1",
        "a.py::t1",
        "a.py::t2",
    ]


def test_a_file_not_recorded_is_costed_by_its_tests_and_ties_go_by_path() -> None:
    unknown = [f"new.py::t{i}" for i in range(4)]  # 4 tests: 2 s at the default
    assert 4 * UNKNOWN_SECONDS_PER_TEST == 2.0
    assert _order(["a.py::t", "z.py::t", *unknown], {"a.py": 1.0, "z.py": 3.0}) == ["z.py::t", *unknown, "a.py::t"]
    assert _order(["y.py::t", "x.py::t"], {"x.py": 2.0, "y.py": 2.0}) == ["x.py::t", "y.py::t"]
