"""A factory of routes or dependencies memoised by the identity of its arguments.

A route's definition is an object: a router made by a function (one per export table set, one
per ownership transfer registry) is a new set of endpoints each time the function runs. A
deployed process builds one app and calls each factory once; a process that builds many apps
(the test suite builds one per test) would rebuild every such route (its dependency tree and
response fields, ~20 ms per app) and miss the per-process OpenAPI memo
(``tessera_shared.http.openapi_once``). Memoised, equal arguments give the same routes.

The arguments are module-level registries and names: they are kept alive by the memo, so no
``id()`` in a key can be reused by another object.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")


def once_per_arguments(factory: Callable[P, R]) -> Callable[P, R]:
    made: dict[tuple[int, ...], tuple[tuple[Any, ...], R]] = {}

    @functools.wraps(factory)
    def once(*args: P.args, **kwargs: P.kwargs) -> R:
        if kwargs:
            raise TypeError(f"{factory.__name__} is memoised by position: pass its arguments positionally")
        key = tuple(map(id, args))
        if key not in made:
            made[key] = (args, factory(*args, **kwargs))
        return made[key][1]

    return once
