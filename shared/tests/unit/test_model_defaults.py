"""tessera_shared.db.model_defaults: a default factory's signature is asked about once, not at
every record built (SQLModel's table constructor and ``model_construct`` call the factories
through pydantic's ``get_default``), and factories that take the validated data still get it."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel, Field
from pydantic._internal import _typing_extra

import tessera_shared.db  # noqa: F401 - installs the cache


def fresh_tags() -> list[str]:
    return []


class Record(BaseModel):
    a: int = 1
    tags: list[str] = Field(default_factory=fresh_tags)
    twice: int = Field(default_factory=lambda data: data["a"] * 2)


def test_a_factorys_signature_is_read_once(monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[Any] = []
    original = _typing_extra.signature_no_eval

    def counting(f: Any, *args: Any, **kwargs: Any) -> Any:
        asked.append(f)
        return original(f, *args, **kwargs)

    monkeypatch.setattr(_typing_extra, "signature_no_eval", counting)
    built = [Record.model_construct() for _ in range(50)]
    assert asked.count(fresh_tags) <= 1  # was once per record built
    assert all(r.tags == [] for r in built) and built[0].tags is not built[1].tags


def test_a_factory_taking_the_validated_data_still_gets_it() -> None:
    assert Record.model_construct(a=4).twice == 8
    assert Record(a=5).twice == 10
