"""The query string a route declares, and nothing else: unknown parameters and ``?fields=``.

Every route of every service runs ``check_query`` (an app-wide dependency, so it runs after
routing and knows the matched route): a query parameter the route does not declare is a 422
naming it (``errors[].field`` the parameter, ``location`` ``query``, as every other 422 names a
query parameter) instead of being silently ignored. The report's former ``from``/``to`` are
renamed before routing (``tessera_shared.http.renamed``), so they stay accepted.

``?fields=id,name`` selects the fields of a read or a list (a ``GET`` whose response model is a
pydantic model; for a model with an ``items`` list, such as ``Page``, the fields of each item):
``id`` is always kept, and a name the model does not have is a 422 naming ``fields``. The
dependency notes the selection in the request's scope; ``FieldSelection`` (middleware) trims the
JSON the endpoint wrote. What a route accepts is worked out once per route and cached on it.

Routes that pass their query string on to another service (the gateway's proxy) are marked
with ``forwards_query``: the service that answers checks it.
"""

from __future__ import annotations

import copy
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import orjson
from fastapi import Request, routing
from fastapi.dependencies.utils import _get_flat_fields_from_params
from fastapi.routing import APIRoute
from pydantic import BaseModel
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tessera_shared.errors import InvalidInput, field_error

FIELDS = "fields"
SCOPE_KEY = "tessera.fields"
MAX_FIELDS_LENGTH = 2000

F = TypeVar("F", bound=Callable[..., Any])


def forwards_query(endpoint: F) -> F:
    """Mark an endpoint that forwards its query string to another service (which checks it)."""
    endpoint.__tessera_forwards_query__ = True  # type: ignore[attr-defined]
    return endpoint


def accepts_query_prefix(*prefixes: str) -> Callable[[F], F]:
    """Mark an endpoint that reads query parameters by name prefix (e.g. ``custom_fields.``,
    whose keys each service's definitions name): those are let through and the endpoint checks them."""

    def mark(endpoint: F) -> F:
        endpoint.__tessera_query_prefixes__ = tuple(prefixes)  # type: ignore[attr-defined]
        return endpoint

    return mark


@dataclass(frozen=True, slots=True)
class QueryRules:
    """What one route accepts: ``allowed`` query names (None: any), the ``fields`` a selection
    may name (None: no selection) and whether they are the fields of ``items``."""

    allowed: frozenset[str] | None
    fields: frozenset[str] | None = None
    items: bool = False
    prefixes: tuple[str, ...] = ()


def _model_of(annotation: Any) -> type[BaseModel] | None:
    return annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None


def _names(model: type[BaseModel]) -> frozenset[str]:
    return frozenset(f.serialization_alias or f.alias or name for name, f in model.model_fields.items())


def _list_item_model(annotation: Any) -> type[BaseModel] | None:
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(annotation):
            if arg is not type(None) and (found := _list_item_model(arg)) is not None:
                return found
        return None
    if origin in (list, tuple):
        args = typing.get_args(annotation)
        return _model_of(args[0]) if args else None
    return None


def selectable_fields(response_model: Any) -> tuple[frozenset[str] | None, bool]:
    """The names ``?fields=`` may give for a response model: its own fields, or its items' when
    it is a list page (a model with an ``items`` list of models); None unless they include ``id``."""
    model = _model_of(response_model)
    if model is None:
        return None, False
    items = model.model_fields.get("items")
    if items is not None and (item := _list_item_model(items.annotation)) is not None:
        names, listed = _names(item), True
    else:
        names, listed = _names(model), False
    # Records (and pages of records) only: what has an id to keep (not a report or a view).
    return (names, listed) if "id" in names else (None, False)


def _query_params(dependant: Any) -> Any:
    yield from dependant.query_params
    for sub in dependant.dependencies:
        yield from _query_params(sub)


def rules_for(route: Any) -> QueryRules:
    """The rules of a route (an ``APIRoute``, or the route context FastAPI iterates for the document)."""
    if getattr(route.endpoint, "__tessera_forwards_query__", False):
        return QueryRules(allowed=None)
    allowed = {f.alias for f in _get_flat_fields_from_params(list(_query_params(route.dependant)))}
    fields: frozenset[str] | None = None
    items = False
    if "GET" in (route.methods or ()) and FIELDS not in allowed:
        fields, items = selectable_fields(route.response_model)
        if fields is not None:
            allowed.add(FIELDS)
    prefixes = tuple(getattr(route.endpoint, "__tessera_query_prefixes__", ()))
    return QueryRules(allowed=frozenset(allowed), fields=fields, items=items, prefixes=prefixes)


def route_rules(route: Any) -> QueryRules | None:
    """The cached rules of a matched route (None for a route that is not an ``APIRoute``)."""
    if not isinstance(route, APIRoute):
        return None
    rules: QueryRules | None = route.__dict__.get("_tessera_query_rules")
    if rules is None:
        rules = rules_for(route)
        route.__dict__["_tessera_query_rules"] = rules
    return rules


def parse_fields(raw: str, known: frozenset[str]) -> frozenset[str]:
    """``id,name`` as the set of names kept (``id`` always), or a 422 naming ``fields``."""
    if len(raw) > MAX_FIELDS_LENGTH:
        raise InvalidInput(FIELDS, f"at most {MAX_FIELDS_LENGTH} characters", "query")
    names = [n.strip() for n in raw.split(",") if n.strip()]
    if not names:
        raise InvalidInput(FIELDS, "name at least one field, e.g. fields=id,name", "query")
    unknown = sorted({n for n in names if n not in known})
    if unknown:
        listed = ", ".join(repr(n) for n in unknown[:20])
        raise InvalidInput(FIELDS, f"unknown field(s) {listed}; known: {', '.join(sorted(known))}", "query")
    return frozenset(names) | ({"id"} & known)


async def check_query(request: Request) -> None:
    """Refuse query parameters the matched route does not declare; note a ``?fields=`` selection."""
    query = request.scope.get("query_string")
    if not query:
        return
    rules = route_rules(request.scope.get("route"))
    if rules is None or rules.allowed is None:
        return
    params = request.query_params
    unknown = [
        name
        for name in dict.fromkeys(params.keys())
        if name not in rules.allowed and not (rules.prefixes and name.startswith(rules.prefixes))
    ]
    if unknown:
        raise InvalidInput.of(
            field_error(name[:100], f"unknown query parameter '{name[:100]}'", "query", "extra_forbidden")
            for name in unknown
        )
    if rules.fields is not None and FIELDS in params:
        values = params.getlist(FIELDS)
        request.scope[SCOPE_KEY] = (parse_fields(",".join(values), rules.fields), rules.items)


def select_fields(body: Any, keep: frozenset[str], items: bool) -> Any:
    def trim(obj: Any) -> Any:
        return {k: v for k, v in obj.items() if k in keep} if isinstance(obj, dict) else obj

    if items:
        if isinstance(body, dict) and isinstance(body.get("items"), list):
            return {**body, "items": [trim(x) for x in body["items"]]}
        return body
    return trim(body)


class FieldSelection:
    """Trims a successful JSON answer to the fields ``check_query`` noted (a pass-through for
    every request without ``fields=`` in its query string)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or b"fields" not in scope.get("query_string", b""):
            await self.app(scope, receive, send)
            return
        start: Message | None = None
        chunks: list[bytes] = []

        async def trimmed(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                selection = scope.get(SCOPE_KEY)
                start_headers = dict(message.get("headers", []))
                if (
                    selection is None
                    or message["status"] != 200
                    or start_headers.get(b"content-type") != b"application/json"
                ):
                    scope[SCOPE_KEY] = None
                    await send(message)
                    return
                start = message
                return
            if start is None or message["type"] != "http.response.body":
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            keep, items = scope[SCOPE_KEY]
            body = orjson.dumps(select_fields(orjson.loads(b"".join(chunks)), keep, items))
            headers = [(k, v) for k, v in start.get("headers", []) if k != b"content-length"]
            headers.append((b"content-length", str(len(body)).encode()))
            await send({**start, "headers": headers})
            await send({"type": "http.response.body", "body": body, "more_body": False})

        await self.app(scope, receive, trimmed)


def document_query_rules(doc: dict[str, Any], app: Any) -> dict[str, Any]:
    """Every operation may answer 422 (an unknown query parameter); each ``GET`` that selects
    fields documents ``fields`` with the names it takes."""
    for context in routing.iter_route_contexts(app.routes):
        if not isinstance(context.original_route, APIRoute) or not context.include_in_schema:
            continue
        operations = doc.get("paths", {}).get(context.path_format, {})
        rules = rules_for(context)
        for method in context.methods or ():
            op = operations.get(method.lower())
            if op is None:
                continue
            op.setdefault("responses", {}).setdefault("422", {"description": "Validation Error"})
            if rules.fields is not None and method == "GET":
                _answer_may_be_partial(doc, op, rules.items)
                names = ", ".join(sorted(rules.fields))
                what = "each item" if rules.items else "the answer"
                params = op.setdefault("parameters", [])
                if not any(p.get("name") == FIELDS and p.get("in") == "query" for p in params):
                    params.append(
                        {
                            "name": FIELDS,
                            "in": "query",
                            "required": False,
                            "description": f"Comma-separated fields of {what} to return (`id` always); "
                            f"an unknown name is a 422. One of: {names}.",
                            "schema": {"type": "string", "maxLength": MAX_FIELDS_LENGTH, "example": "id"},
                        }
                    )
    return doc


def _partial_schema(doc: dict[str, Any], ref: str, items: bool) -> str | None:
    """A copy of component ``ref`` whose fields are optional but ``id`` (of its items' with
    ``items``): what an answer with ``?fields=`` conforms to."""
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    name = ref.rsplit("/", 1)[-1]
    if name not in schemas:
        return None
    partial = f"{name}Selected"
    if partial not in schemas:
        schema = copy.deepcopy(schemas[name])
        if items:
            inner = schema.get("properties", {}).get("items", {}).get("items", {})
            inner_ref = _partial_schema(doc, inner["$ref"], False) if "$ref" in inner else None
            if inner_ref is None:
                return None
            inner["$ref"] = inner_ref
        else:
            schema["required"] = [r for r in schema.get("required", []) if r == "id"]
        schema["title"] = f"{schema.get('title', name)} (selected fields)"
        schemas[partial] = schema
    return f"#/components/schemas/{partial}"


def _answer_may_be_partial(doc: dict[str, Any], op: dict[str, Any], items: bool) -> None:
    content = op.get("responses", {}).get("200", {}).get("content", {}).get("application/json", {})
    ref = content.get("schema", {}).get("$ref")
    if ref is None:
        return
    partial = _partial_schema(doc, ref, items)
    if partial is not None:
        content["schema"] = {"anyOf": [{"$ref": ref}, {"$ref": partial}]}
