"""One dependency tree per endpoint for the whole test process, not per app.

A test builds its own app, and FastAPI (0.165) builds each route's dependency tree (the
endpoint's signature read, a pydantic field per parameter) the first time the app routes a
request: 40-50 ms of each service test's CPU, about a sixth of the service suites. The tree
depends only on the route's path, its endpoint and its dependencies, all of which are the same
objects in every app of a service, so the test process builds it once. Production processes make
one app and are unchanged. A FastAPI without the function this wraps fails the run at start.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

from fastapi import params, routing

_NAME = "_build_dependant_with_parameterless_dependencies"


def share_dependency_trees() -> None:
    build: Callable[..., Any] = getattr(routing, _NAME)
    if getattr(build, "__wrapped__", None) is not None:
        return

    # Bounded: endpoints made per app (the probes, routers built by a factory) never repeat.
    @functools.lru_cache(maxsize=4096)
    def cached(path: str, call: Callable[..., Any], dependencies: tuple[params.Depends, ...]) -> Any:
        return build(path=path, call=call, dependencies=list(dependencies))

    @functools.wraps(build)
    def shared(*, path: str, call: Callable[..., Any], dependencies: Sequence[params.Depends]) -> Any:
        dependant, body_params, embed = cached(path, call, tuple(dependencies))
        return dependant, list(body_params), embed

    setattr(routing, _NAME, shared)
