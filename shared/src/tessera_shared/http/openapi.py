"""The OpenAPI document as the contract generated clients use, derived from the code.

FastAPI documents the success answer, the parameters it validates and a 422. Everything else a
client can get is added here, per operation, from what the route really does:

- **statuses**: every domain error (``tessera_shared.errors``: ``NotFound(...)``,
  ``Conflict(..., kind=...)``, ``InvalidTransition``, ``InvalidInput``, a service's own
  subclasses) and every ``Problem(<status>, ..., slug=...)`` the endpoint can reach (its own
  code, its dependencies, and the functions of this project they call, followed through module
  globals and the methods called on module-level objects, e.g. ``MACHINE.check``), so a 409
  ``credit-hold`` is declared on ``winDeal`` and nowhere else; 401 and 403
  from the auth dependencies, 404 where the path names an entity, 412 where ``If-Match`` is
  checked, 413 where a body is read, 422 where anything is validated, 503 with
  ``Retry-After`` on every route but the probes (the database handlers answer it anywhere);
  ``5XX`` stays as the default for the rest (500, and the gateway's 502/504);
- **request headers**: ``Idempotency-Key`` is a ``Header()`` parameter of the shared
  ``IdempotencyDep``, so it is documented by construction wherever a route uses it;
  ``If-Match`` (and 412) wherever the route reaches ``check_if_match``; ``If-None-Match``
  where the endpoint reads it;
- **response headers**: ``Idempotent-Replayed`` where the idempotency dependency is used,
  ``ETag`` / ``Location`` where the endpoint (or a helper of its module) sets them, ``Retry-After`` on 429 and 503,
  ``WWW-Authenticate`` on 401;
- **clean-up**: schemas nothing refers to are dropped (FastAPI's ``HTTPValidationError``).

Every error body is RFC 9457 problem+json (``#/components/schemas/Problem``).
"""

from __future__ import annotations

import dis
import inspect
import re
import types
import weakref
from collections.abc import Callable, Iterable, Iterator
from functools import cache
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, routing
from fastapi.routing import APIRoute

# The mechanics whose answers this module documents; none of them imports this module.
from tessera_shared.auth import principal_from_request
from tessera_shared.errors import Conflict, DomainError
from tessera_shared.http.etag import check_if_match
from tessera_shared.http.idempotency import _idempotency

PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "RFC 9457 problem details",
    "required": ["type", "title", "status"],
    "properties": {
        "type": {"type": "string", "description": "stable problem type, e.g. urn:tessera:problem:not-found"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "request_id": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "field": {"type": "string"},
                    "location": {"type": "string"},
                    "message": {"type": "string"},
                    "type": {"type": "string"},
                },
            },
        },
    },
    "additionalProperties": True,
}
PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
_PROBLEM_CONTENT = {"application/problem+json": {"schema": PROBLEM_REF}}
REF_PREFIX = "#/components/schemas/"

HEADERS: dict[str, dict[str, Any]] = {
    "ETag": {"description": "The entity's version, to send back as `If-Match`", "schema": {"type": "string"}},
    "Location": {"description": "Where the created resource is", "schema": {"type": "string"}},
    "Idempotent-Replayed": {
        "description": "`true` when this is the stored answer to an earlier request with the same `Idempotency-Key`",
        "schema": {"type": "string", "enum": ["true"]},
    },
    "Retry-After": {"description": "Seconds to wait before retrying", "schema": {"type": "string"}},
    "WWW-Authenticate": {"description": "The bearer challenge", "schema": {"type": "string"}},
}

IF_MATCH = {
    "name": "If-Match",
    "in": "header",
    "required": False,
    "description": "The `ETag` you read: the change applies only to that version (else 412). "
    "Without it the change applies to whatever version is current.",
    "schema": {"type": "string", "maxLength": 1024},
}
IF_NONE_MATCH = {
    "name": "If-None-Match",
    "in": "header",
    "required": False,
    "description": "An `ETag` you hold: 304 Not Modified while it is still current.",
    "schema": {"type": "string", "maxLength": 1024},
}

_DESCRIPTIONS = {
    401: "No valid bearer token",
    403: "The caller's role (or an object-level rule) does not allow this",
    404: "Not found",
    409: "Conflict with the resource's state",
    412: "`If-Match` names another version (`current_etag` has the current one)",
    413: "The request body is too large",
    415: "Unsupported media type",
    422: "Invalid input; `errors` names each field",
    429: "Too many requests; see `Retry-After`",
    502: "An upstream service failed to answer",
    503: "Unavailable for now (database or upstream busy or away); see `Retry-After`",
    504: "An upstream service did not answer in time",
}
# Problems whose answers carry headers of their own.
_STATUS_HEADERS = {401: ["WWW-Authenticate"], 429: ["Retry-After"], 503: ["Retry-After"]}
# Raised by the shared middlewares and exception handlers around every route.
_BODY_STATUSES = (413, 422)


def operation_id(route: APIRoute) -> str:
    """``list_customers`` -> ``listCustomers``: the endpoint's name (or the route's ``name=``)."""
    first, *rest = route.name.split("_")
    return first + "".join(part[:1].upper() + part[1:] for part in rest)


# -- what a route can answer, read from its code ------------------------------------------------

_PROBLEM_CALL = re.compile(r"\bProblem\(\s*(\d{3})\b")
_SLUG = re.compile(r"""\bslug\s*=\s*["']([a-z0-9-]+)["']""")
_CLASS_CALL = re.compile(r"\b([A-Z][A-Za-z0-9_]*)\(")
_KIND = re.compile(r"""\bkind\s*=\s*["']([a-z0-9-]+)["']""")


def _domain_errors() -> dict[str, list[type[DomainError]]]:
    """Every DomainError class defined so far, by name (a service's own subclasses included)."""
    found: dict[str, list[type[DomainError]]] = {}
    pending: list[type[DomainError]] = [DomainError]
    while pending:
        cls = pending.pop()
        found.setdefault(cls.__name__, []).append(cls)
        pending.extend(cls.__subclasses__())
    return found


def _domain_error_named(name: str, scope: dict[str, Any], known: dict[str, list[type[DomainError]]]) -> Any:
    value = scope.get(name)
    if isinstance(value, type) and issubclass(value, DomainError):
        return value
    candidates = known.get(name, [])
    return candidates[0] if len(candidates) == 1 else None  # ``module.Name(`` of a unique class


def _call_text(source: str, start: int) -> str:
    """The text of the call whose ``(`` is at ``start`` (balanced parentheses)."""
    depth = 0
    for i in range(start, min(len(source), start + 2000)):
        if source[i] == "(":
            depth += 1
        elif source[i] == ")":
            depth -= 1
            if depth == 0:
                return source[start : i + 1]
    return source[start : start + 2000]


@cache
def _problems_in(function: Callable[..., Any]) -> frozenset[tuple[int, str | None]]:
    try:
        source = inspect.getsource(function)
    except (OSError, TypeError):
        return frozenset()
    found = set()
    for match in _PROBLEM_CALL.finditer(source):
        slug = _SLUG.search(_call_text(source, match.start() + len("Problem")))
        found.add((int(match.group(1)), slug.group(1) if slug else None))
    known = _domain_errors()
    scope = getattr(function, "__globals__", {})
    for match in _CLASS_CALL.finditer(source):
        cls = _domain_error_named(match.group(1), scope, known)
        if cls is None or cls is DomainError:
            continue
        slug_text = cls.slug
        if issubclass(cls, Conflict):
            kind = _KIND.search(_call_text(source, match.end() - 1))
            slug_text = kind.group(1) if kind else slug_text
        found.add((cls.status, slug_text))
    return frozenset(found)


def _referenced(code: types.CodeType, scope: dict[str, Any]) -> Iterator[Any]:
    """The objects ``code`` loads as globals (or closure cells), and ``module.attribute``s."""
    previous: Any = None
    for instruction in dis.get_instructions(code):
        current = None
        if instruction.opname in ("LOAD_GLOBAL", "LOAD_NAME", "LOAD_DEREF"):
            current = scope.get(instruction.argval)
        elif instruction.opname in ("LOAD_ATTR", "LOAD_METHOD") and isinstance(previous, types.ModuleType):
            current = getattr(previous, instruction.argval, None)
        elif instruction.opname in ("LOAD_ATTR", "LOAD_METHOD") and _ours(type(previous)):
            # ``MACHINE.check(...)`` on a module-level object of ours: that method, not all of them.
            current = getattr(type(previous), instruction.argval, None)
            current = current if isinstance(current, types.FunctionType) else None
        if current is not None:
            yield current
        previous = current
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield from _referenced(const, scope)


def _ours(obj: Any) -> bool:
    return (getattr(obj, "__module__", None) or "").startswith("tessera_")


def _functions_of(obj: Any) -> Iterator[Callable[..., Any]]:
    if isinstance(obj, (types.FunctionType, types.MethodType)):
        yield getattr(obj, "__func__", obj)
    elif inspect.isclass(obj) and _ours(obj):
        for value in vars(obj).values():
            if isinstance(value, (staticmethod, classmethod)):
                value = value.__func__
            if isinstance(value, types.FunctionType):
                yield value


def reachable(roots: Iterable[Callable[..., Any]]) -> tuple[set[tuple[int, str | None]], set[Any]]:
    """The ``Problem(status, slug=...)`` raised in ``roots`` and in every function of this
    project they name (directly, as ``module.function`` or through a class), transitively; and
    those functions."""
    seen: set[Callable[..., Any]] = set()
    stack = [f for root in roots for f in _functions_of(root)]
    found: set[tuple[int, str | None]] = set()
    while stack:
        function = stack.pop()
        if function in seen or not _ours(function) or not hasattr(function, "__code__"):
            continue
        seen.add(function)
        found |= _problems_in(function)
        stack.extend(_callees(function))
    return found, seen


# A function's callees, found once per function object: every route of every app a process
# documents walks the same functions again (the gateway's merged document alone disassembled
# ~870k instructions, most of them many times over). Weak keys: a closure made for one app (a
# role check, a router factory's endpoint) goes with its app.
_CALLEES: weakref.WeakKeyDictionary[Any, tuple[Callable[..., Any], ...]] = weakref.WeakKeyDictionary()


def _callees(function: Any) -> tuple[Callable[..., Any], ...]:
    known = _CALLEES.get(function)
    if known is not None:
        return known
    scope = dict(getattr(function, "__globals__", {}))
    cells = zip(function.__code__.co_freevars, function.__closure__ or (), strict=False)
    scope.update({name: value for name, cell in cells if (value := _safe_cell(cell)) is not None})
    callees = tuple(f for obj in _referenced(function.__code__, scope) for f in _functions_of(obj))
    _CALLEES[function] = callees
    return callees


def _safe_cell(cell: Any) -> Any:
    try:
        return cell.cell_contents
    except ValueError:
        return None


def _dependency_calls(dependant: Any) -> Iterator[Callable[..., Any]]:
    for dependency in dependant.dependencies:
        if dependency.call is not None:
            yield dependency.call
        yield from _dependency_calls(dependency)


def _sets_header(function: Callable[..., Any], header: str) -> bool:
    try:
        source = inspect.getsource(function)
    except (OSError, TypeError):
        return False
    return f'"{header}"' in source or f"'{header}'" in source


def _reads_header(function: Callable[..., Any], header: str) -> bool:
    try:
        source = inspect.getsource(function)
    except (OSError, TypeError):
        return False
    return re.search(rf"""headers\.get\(\s*["']{header}["']""", source, re.IGNORECASE) is not None


def _api_routes(app: FastAPI) -> Iterator[Any]:
    for context in routing.iter_route_contexts(app.routes):
        if isinstance(context.original_route, APIRoute) and context.include_in_schema:
            yield context


# -- the document -------------------------------------------------------------------------------


def problem_response(status: int, slugs: Iterable[str | None] = ()) -> dict[str, Any]:
    names = sorted({s for s in slugs if s})
    description = _DESCRIPTIONS.get(status) or HTTPStatus(status).phrase
    if names:
        description += ": " + ", ".join(f"`{n}`" for n in names)
    response: dict[str, Any] = {"description": description, "content": _PROBLEM_CONTENT}
    if status in _STATUS_HEADERS:
        response["headers"] = {h: HEADERS[h] for h in _STATUS_HEADERS[status]}
    return response


def _add_headers(response: dict[str, Any], names: Iterable[str]) -> None:
    for name in names:
        response.setdefault("headers", {}).setdefault(name, HEADERS[name])


def _route_answers(route: Any) -> tuple[dict[int, set[str | None]], list[str], list[dict[str, Any]]]:
    """(status -> slugs, success response headers, request header parameters) of one route."""
    calls = list(_dependency_calls(route.dependant))
    statuses: dict[int, set[str | None]] = {}
    problems, functions = reachable([route.endpoint, *calls])
    for status, slug in problems:
        statuses.setdefault(status, set()).add(slug)
    params = route.dependant
    if principal_from_request in calls:
        statuses.setdefault(401, set())
        statuses.setdefault(403, set())
    if params.path_params:
        statuses.setdefault(404, set())
    if route.body_field is not None or "requestBody" in (route.openapi_extra or {}):
        for status in _BODY_STATUSES:
            statuses.setdefault(status, set())
    if any(
        (
            params.path_params,
            params.query_params,
            params.header_params,
            params.cookie_params,
            params.body_params,
            _flat_params(params),
        )
    ):
        statuses.setdefault(422, set())
    parameters = []
    if check_if_match in functions:
        statuses.setdefault(412, set()).add("precondition-failed")
        parameters.append(IF_MATCH)
    if _reads_header(route.endpoint, "if-none-match"):
        parameters.append(IF_NONE_MATCH)
    if "health" not in (route.tags or ()):
        # The database handlers answer 503 on any route (pool exhausted, connection lost).
        statuses.setdefault(503, set())
    headers = []
    if _idempotency in calls:
        headers.append("Idempotent-Replayed")
    # Set by the endpoint or a helper of its own module (e.g. a router's ``respond``).
    local = [f for f in functions if f.__module__ == route.endpoint.__module__]
    for name in ("ETag", "Location"):
        if any(_sets_header(f, name) for f in local):
            headers.append(name)
    return statuses, headers, parameters


def _flat_params(dependant: Any) -> bool:
    return any(
        d.query_params or d.header_params or d.path_params or d.body_params or _flat_params(d)
        for d in dependant.dependencies
    )


def document_route_answers(doc: dict[str, Any], app: FastAPI) -> dict[str, Any]:
    """Each operation's real statuses and headers, from its route's code (see the module doc)."""
    for route in _api_routes(app):
        operations = doc.get("paths", {}).get(route.path_format, {})
        statuses, headers, parameters = _route_answers(route)
        for method in route.methods or ():
            op = operations.get(method.lower())
            if op is None:
                continue
            names = {(p.get("in"), p.get("name", "").lower()) for p in op.get("parameters", [])}
            op.setdefault("parameters", []).extend(p for p in parameters if ("header", p["name"].lower()) not in names)
            if not op["parameters"]:
                del op["parameters"]
            responses = op.setdefault("responses", {})
            for code, response in responses.items():
                if code.startswith("2"):
                    _add_headers(response, [h for h in headers if h != "Location" or code == "201"])
            for status, slugs in sorted(statuses.items()):
                if status < 400:
                    continue
                note = responses.get(str(status), {}).get("description")
                page = responses.get(str(status), {}).get("content", {}).get("text/html")
                response = problem_response(status, slugs)
                if note and status != 422 and note not in response["description"]:
                    response["description"] += f" ({note})"  # what the route's decorator said
                if page is not None:  # a browser gets a page (tessera_shared.http.pages)
                    response["content"] = {**response["content"], "text/html": page}
                responses[str(status)] = response
    return doc


def add_problem_responses(doc: dict[str, Any], app: FastAPI | None = None) -> dict[str, Any]:
    """Problem+json on every error answer, each operation's real statuses (with ``app``), a
    ``5XX`` default, and no unused schemas."""
    doc.setdefault("components", {}).setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
    if app is not None:
        document_route_answers(doc, app)
    for operations in doc.get("paths", {}).values():
        for method, op in operations.items():
            if not isinstance(op, dict) or method == "parameters":
                continue
            responses = op.setdefault("responses", {})
            responses.pop("4XX", None)
            responses.setdefault(
                "5XX", {"description": "A server error, as problem details", "content": _PROBLEM_CONTENT}
            )
            for code, response in responses.items():
                if code[0] in "45":
                    # A page for a browser (tessera_shared.http.pages) may answer an error too.
                    page = {k: v for k, v in response.get("content", {}).items() if k == "text/html"}
                    response["content"] = {**_PROBLEM_CONTENT, **page} if page else _PROBLEM_CONTENT
                    if code[:3].isdigit() and int(code) in _STATUS_HEADERS:
                        _add_headers(response, _STATUS_HEADERS[int(code)])
                    if code == "422":
                        response["description"] = _DESCRIPTIONS[422]
    return drop_unused_schemas(doc)


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str) and value.startswith(REF_PREFIX):
                yield value.removeprefix(REF_PREFIX)
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def drop_unused_schemas(doc: dict[str, Any]) -> dict[str, Any]:
    """Remove component schemas nothing in the document refers to (directly or through others)."""
    schemas = doc.get("components", {}).get("schemas")
    if not schemas:
        return doc
    outside = {k: v for k, v in doc.items() if k != "components"}
    outside["components"] = {k: v for k, v in doc["components"].items() if k != "schemas"}
    used: set[str] = set()
    pending = list(_refs(outside))
    while pending:
        name = pending.pop()
        if name in used or name not in schemas:
            continue
        used.add(name)
        pending.extend(_refs(schemas[name]))
    for name in [n for n in schemas if n not in used]:
        del schemas[name]
    return doc
