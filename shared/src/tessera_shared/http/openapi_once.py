"""An app's OpenAPI document built once per process for apps made of the same routes.

Building a service's document costs 0.2-0.7 s of CPU (FastAPI's schema generation, then
``tessera_shared.http.openapi`` reading each endpoint's code for the answers it can give). A
deployed process builds one app and its document once; a process that builds the same app
again (the test suite starts a service app per test, and every gateway started beside them
fetches each service's ``/openapi.json``) reuses the first document of an equal app.

Two apps are equal here when their titles, descriptions and token URLs are, and their routes
are the same list of definitions: per route its class, path, methods, endpoint code and default
arguments (``Depends(...)`` objects are made when the ``def`` runs, so an endpoint defined again
inside a function is a different definition unless it takes none), response model, status,
response class, dependencies, documentation fields and whether it is in the schema. A route
whose definition depends on the app's settings differs in one of these, so it misses the memo;
nothing in a service's document depends on its settings otherwise (``token_url`` is in the key).

Each caller gets its own copy of the document (callers may edit theirs).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any

import orjson
from fastapi import FastAPI
from fastapi.datastructures import DefaultPlaceholder
from starlette.routing import BaseRoute

# Built documents by their key; the key's objects (endpoint code, models, dependencies) and the
# defaults held beside each entry stay alive, so no id() in a key can be reused by another object.
_BUILT: dict[Hashable, tuple[bytes, list[Any]]] = {}


def _hashable(value: Any) -> Hashable:
    if isinstance(value, DefaultPlaceholder):
        value = value.value
    try:
        hash(value)
    except TypeError:
        return repr(value)
    key: Hashable = value
    return key


def _route_key(route: BaseRoute, alive: list[Any]) -> Hashable:
    endpoint = getattr(route, "endpoint", None)
    code = getattr(endpoint, "__code__", endpoint)
    keyword_defaults = getattr(endpoint, "__kwdefaults__", None) or {}
    defaults = (*(getattr(endpoint, "__defaults__", None) or ()), *keyword_defaults.values())
    alive.extend(defaults)
    responses = getattr(route, "responses", None) or {}
    parts = (
        type(route),
        getattr(route, "path", None),
        tuple(sorted(getattr(route, "methods", None) or ())),
        code,
        tuple(id(d) for d in defaults),
        getattr(route, "response_model", None),
        getattr(route, "status_code", None),
        getattr(route, "response_class", None),
        tuple(getattr(d, "dependency", d) for d in getattr(route, "dependencies", None) or ()),
        getattr(route, "summary", None),
        getattr(route, "description", None),
        tuple(str(t) for t in getattr(route, "tags", None) or ()),
        getattr(route, "deprecated", None),
        getattr(route, "operation_id", None),
        getattr(route, "include_in_schema", None),
        repr(sorted(responses.items(), key=lambda item: str(item[0]))),
        repr(getattr(route, "openapi_extra", None)),
    )
    return tuple(_hashable(part) for part in parts)


def openapi_once(app: FastAPI, token_url: str, build: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """``build()`` for the first app of its kind in this process; a copy of that for the next."""
    alive: list[Any] = []
    key = (app.title, app.description, app.version, token_url, tuple(_route_key(r, alive) for r in app.routes))
    built = _BUILT.get(key)
    if built is None:
        document = build()
        _BUILT[key] = (orjson.dumps(document), alive)
        return document
    return dict(orjson.loads(built[0]))
