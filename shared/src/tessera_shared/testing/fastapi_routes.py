"""One dependency tree and one response field per route for the whole test process, not per app.

A test builds its own app, and FastAPI (0.165) builds each route's dependency tree (the
endpoint's signature read, a pydantic field per parameter) and its response fields (a pydantic
``TypeAdapter`` each) the first time the app routes a request: 40-50 ms of each service test's
CPU, about a sixth of the service suites. Both depend only on the route's definition (path,
endpoint and dependencies; the response field's name and type), the same objects in every app of
a service, so the test process builds each once. Production processes make one app and are
unchanged. A FastAPI without the functions wrapped here fails the run at start.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

from fastapi import params, routing
from pydantic_core import PydanticUndefined

_TREE = "_build_dependant_with_parameterless_dependencies"
_FIELD = "create_model_field"


def _hashable(value: Any) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True


def share_route_builds() -> None:
    build: Callable[..., Any] = getattr(routing, _TREE)
    make_field: Callable[..., Any] = getattr(routing, _FIELD)
    if getattr(build, "__wrapped__", None) is not None:
        return

    # Bounded: endpoints made per app (the probes, the docs pages) never repeat.
    @functools.lru_cache(maxsize=4096)
    def cached_tree(path: str, call: Callable[..., Any], dependencies: tuple[params.Depends, ...]) -> Any:
        return build(path=path, call=call, dependencies=list(dependencies))

    @functools.wraps(build)
    def tree(*, path: str, call: Callable[..., Any], dependencies: Sequence[params.Depends]) -> Any:
        dependant, body_params, embed = cached_tree(path, call, tuple(dependencies))
        return dependant, list(body_params), embed

    @functools.lru_cache(maxsize=4096)
    def cached_field(name: str, type_: Any, mode: str) -> Any:
        return make_field(name=name, type_=type_, mode=mode)

    @functools.wraps(make_field)
    def field(name: str, type_: Any, default: Any = PydanticUndefined, *args: Any, **kwargs: Any) -> Any:
        # Only the plain call FastAPI makes for a response field (name, type, mode) is shared.
        if not args and default is PydanticUndefined and set(kwargs) <= {"mode"} and _hashable(type_):
            return cached_field(name, type_, kwargs.get("mode", "validation"))
        return make_field(name, type_, default, *args, **kwargs)

    setattr(routing, _TREE, tree)
    setattr(routing, _FIELD, field)
