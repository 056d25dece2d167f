"""tessera_shared.once: a factory called again with the same objects gives what it made first."""

from __future__ import annotations

import pytest

from tessera_shared.once import once_per_arguments

REGISTRY = {"a": 1}
OTHER = {"a": 1}  # equal, but another object


def test_the_same_arguments_give_the_first_result_and_others_a_new_one() -> None:
    calls: list[tuple[object, ...]] = []

    @once_per_arguments
    def make(registry: dict[str, int], name: str) -> object:
        calls.append((registry, name))
        return object()

    first = make(REGISTRY, "sales")
    assert make(REGISTRY, "sales") is first
    assert make(OTHER, "sales") is not first  # identity, not equality: a registry is one object
    assert make(REGISTRY, "billing") is not first
    assert len(calls) == 3
    with pytest.raises(TypeError, match="positionally"):
        make(REGISTRY, name="sales")
