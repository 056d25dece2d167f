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

from tessera_shared.observability import request_id_var

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
    return Response(
        orjson.dumps(body, default=str), status_code=status, media_type=PROBLEM_JSON, headers=headers
    )


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
        out.append({"field": field, "location": str(loc[0]) if loc else "body", "message": message, "type": kind})
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
    errors = [{"field": "body", "location": "body", "message": message, "type": "json_invalid"}]
    return problem_response(422, detail="invalid input: body", instance=request.url.path, errors=errors)


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> Response:
        return problem_response(
            exc.status, slug=exc.slug, title=exc.title, detail=exc.detail,
            instance=request.url.path, headers=exc.headers, **exc.extra,
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        errors = validation_errors(exc)
        fields = ", ".join(dict.fromkeys(e["field"] for e in errors))
        return problem_response(
            422, detail=f"invalid input: {fields}", instance=request.url.path, errors=errors
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 400 and exc.detail == _BODY_PARSE_FAILED:
            return _unparseable_body(request, exc.__cause__)
        detail = exc.detail if isinstance(exc.detail, str) else None
        if detail == HTTPStatus(exc.status_code).phrase:
            detail = None
        return problem_response(
            exc.status_code, detail=detail, instance=request.url.path, headers=getattr(exc, "headers", None)
        )

    @app.exception_handler(sa_exc.TimeoutError)
    async def _pool_exhausted(request: Request, exc: sa_exc.TimeoutError) -> Response:
        # Every connection of the steady pool stayed busy for the pool timeout: overload, not a bug.
        log.warning("database pool exhausted", extra={"path": request.url.path})
        return problem_response(503, detail="the service is busy; retry shortly", instance=request.url.path,
                                headers={"Retry-After": "1"})

    @app.exception_handler(sa_exc.DBAPIError)
    async def _database(request: Request, exc: sa_exc.DBAPIError) -> Response:
        if exc.connection_invalidated:  # the database went away under this request; the pool recovers
            log.warning("database connection lost", extra={"path": request.url.path})
            return problem_response(503, detail="the database is unavailable; retry shortly",
                                    instance=request.url.path, headers={"Retry-After": "1"})
        return await _unhandled(request, exc)

    @app.exception_handler(Exception)
    async def _unhandled(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error", extra={"path": request.url.path})
        return problem_response(500, detail="an internal error occurred; it has been logged", instance=request.url.path)
