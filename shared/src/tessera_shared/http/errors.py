"""RFC 9457 problem details for every 4xx and 5xx, with a stable ``type`` per kind of problem."""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException as StarletteHTTPException

from tessera_shared.errors import DomainError, field_error, invalid_input_detail
from tessera_shared.trace_context import request_id_var

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
TYPE_PREFIX = "urn:tessera:problem:"

_DEFAULT_SLUGS = {
    400: "bad-request",
    401: "unauthorized",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    409: "conflict",
    412: "precondition-failed",
    413: "payload-too-large",
    415: "unsupported-media-type",
    422: "validation-error",
    428: "precondition-required",
    429: "too-many-requests",
    500: "internal-error",
    502: "bad-gateway",
    503: "service-unavailable",
    504: "gateway-timeout",
}


class Problem(Exception):
    """Raise anywhere in a request to answer with problem+json; ``extra`` adds members."""

    def __init__(
        self,
        status: int,
        detail: str | None = None,
        *,
        slug: str | None = None,
        title: str | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail or title or str(status))
        self.status = status
        self.slug = slug or _DEFAULT_SLUGS.get(status, "error")
        self.title = title or HTTPStatus(status).phrase
        self.detail = detail
        self.headers = headers or {}
        self.extra = extra


def problem_response(
    status: int,
    *,
    slug: str | None = None,
    title: str | None = None,
    detail: str | None = None,
    instance: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> Response:
    body: dict[str, Any] = {
        "type": TYPE_PREFIX + (slug or _DEFAULT_SLUGS.get(status, "error")),
        "title": title or HTTPStatus(status).phrase,
        "status": status,
    }
    if detail:
        body["detail"] = detail
    if instance:
        body["instance"] = instance
    rid = request_id_var.get()
    if rid:
        body["request_id"] = rid
    body.update(extra)
    return Response(orjson.dumps(body, default=str), status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _field_name(loc: tuple[Any, ...]) -> str:
    # ("body", "email") -> "email"; ("query", "limit") -> "limit"; ("body",) -> "body"
    parts = [str(p) for p in loc[1:]] if len(loc) > 1 else [str(p) for p in loc]
    return ".".join(parts)


def validation_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    out = []
    for err in exc.errors():
        loc = tuple(err.get("loc", ()))
        kind = err.get("type", "invalid")
        message = err.get("msg", "invalid value")
        if kind == "json_invalid":
            message = f"malformed JSON: {err.get('ctx', {}).get('error', 'cannot parse body')}"
            field = "body"
        elif kind == "extra_forbidden":
            field = _field_name(loc)
            message = f"unknown field '{loc[-1]}'"
        else:
            field = _field_name(loc)
        out.append(field_error(field, message, str(loc[0]) if loc else "body", kind))
    return out


# FastAPI answers 400 with this detail when parsing a body fails other than by a JSONDecodeError
# (which is a 422 json_invalid): JSON nested past the recursion limit (RecursionError), bytes
# that are not UTF-8 (UnicodeDecodeError), a form that cannot be parsed. All are bad input in
# the body: the documented 422 naming ``body``.
_BODY_PARSE_FAILED = "There was an error parsing the body"


def _unparseable_body(request: Request, cause: BaseException | None) -> Response:
    if isinstance(cause, RecursionError):
        message = "malformed JSON: nested too deeply"
    elif isinstance(cause, UnicodeDecodeError):
        message = "malformed JSON: not UTF-8 text"
    else:
        message = "the body cannot be parsed"
    errors = [field_error("body", message, "body", "json_invalid")]
    return problem_response(422, detail=invalid_input_detail(["body"]), instance=request.url.path, errors=errors)


# Raised by the database driver when it cannot reach or open the database: transient, a 503.
_UNREACHABLE_DRIVER_ERRORS = frozenset(
    {"CannotConnectNowError", "TooManyConnectionsError", "ConnectionDoesNotExistError", "ConnectionFailureError"}
)
_DATABASE_CODE = ("/asyncpg/", "/aiosqlite/", "/sqlalchemy/pool/", "/sqlalchemy/engine/", "/sqlalchemy/dialects/")


def _through_database_code(exc: BaseException) -> bool:
    tb = exc.__traceback__
    while tb is not None:
        if any(part in tb.tb_frame.f_code.co_filename for part in _DATABASE_CODE):
            return True
        tb = tb.tb_next
    return False


def database_unreachable(exc: BaseException) -> bool:
    """Whether ``exc`` (or what it wraps) says the database cannot be reached or opened now: a
    refused or reset connection, a connect timeout, a server starting up or out of connections,
    an SQLite file that cannot be opened. Such a request is a 503 with Retry-After, not a 500."""
    seen: set[int] = set()
    pending: list[BaseException | None] = [exc]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if type(current).__name__ in _UNREACHABLE_DRIVER_ERRORS:
            return True
        if isinstance(current, (OSError, TimeoutError)) and _through_database_code(current):
            return True
        if "unable to open database file" in str(current) and type(current).__name__ == "OperationalError":
            return True
        pending += [getattr(current, "orig", None), current.__cause__, current.__context__]
    return False


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> Response:
        return problem_response(
            exc.status,
            slug=exc.slug,
            title=exc.title,
            detail=exc.detail,
            instance=request.url.path,
            headers=exc.headers,
            **exc.extra,
        )

    @app.exception_handler(DomainError)
    async def _domain(request: Request, exc: DomainError) -> Response:
        return problem_response(
            exc.status,
            slug=exc.problem_slug(),
            detail=exc.detail,
            instance=request.url.path,
            headers=exc.headers,
            **exc.members(),
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        errors = validation_errors(exc)
        detail = invalid_input_detail(e["field"] for e in errors)
        return problem_response(422, detail=detail, instance=request.url.path, errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 400 and exc.detail == _BODY_PARSE_FAILED:
            return _unparseable_body(request, exc.__cause__)
        detail: str | None = exc.detail if isinstance(exc.detail, str) else None
        if detail == HTTPStatus(exc.status_code).phrase:
            detail = None
        return problem_response(
            exc.status_code, detail=detail, instance=request.url.path, headers=getattr(exc, "headers", None)
        )

    @app.exception_handler(sa_exc.TimeoutError)
    async def _pool_exhausted(request: Request, exc: sa_exc.TimeoutError) -> Response:
        # Every connection of the steady pool stayed busy for the pool timeout: overload, not a bug.
        log.warning("database pool exhausted", extra={"path": request.url.path})
        return problem_response(
            503, detail="the service is busy; retry shortly", instance=request.url.path, headers={"Retry-After": "1"}
        )

    def _database_unavailable(request: Request, what: str) -> Response:
        log.warning(what, extra={"path": request.url.path})
        return problem_response(
            503,
            detail="the database is unavailable; retry shortly",
            instance=request.url.path,
            headers={"Retry-After": "1"},
        )

    @app.exception_handler(sa_exc.DBAPIError)
    async def _database(request: Request, exc: sa_exc.DBAPIError) -> Response:
        if exc.connection_invalidated:  # the database went away under this request; the pool recovers
            return _database_unavailable(request, "database connection lost")
        if database_unreachable(exc):
            return _database_unavailable(request, "database unreachable")
        return await _unhandled(request, exc)

    # A connection the pool could not open is raised as the driver raised it (asyncpg's
    # ConnectionRefusedError, a connect timeout: TimeoutError is an OSError), not wrapped.
    @app.exception_handler(OSError)
    async def _unreachable(request: Request, exc: Exception) -> Response:
        if database_unreachable(exc):
            return _database_unavailable(request, "database unreachable")
        return await _unhandled(request, exc)

    @app.exception_handler(Exception)
    async def _unhandled(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error", extra={"path": request.url.path})
        return problem_response(500, detail="an internal error occurred; it has been logged", instance=request.url.path)
