"""Domain errors: what a service function raises when a rule refuses a request.

Services and pure rules raise these; they know nothing of HTTP. One handler in
``tessera_shared.http.errors`` turns each into an RFC 9457 problem: the class gives the status
and the problem ``type``, ``members()`` the extra members. The shapes are documented in
``docs/api.md`` (Errors):

- ``InvalidInput`` (422 ``validation-error``): ``errors`` lists ``{field, location, message,
  type}``, the same items the framework's own validation answers carry (``field_error``).
- ``InvalidTransition`` (409 ``invalid-transition``): ``current``, ``requested`` and the
  ``allowed`` moves from the current state, for every state machine.
- ``NotFound`` (404), ``Conflict`` (409, a slug of its own), ``Forbidden`` (403),
  ``Unavailable`` (503 with ``Retry-After``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar


def field_error(field: str, message: str, location: str = "body", kind: str = "value_error") -> dict[str, str]:
    """One item of a 422's ``errors``: the field named as a client sent it, where, and why."""
    return {"field": field, "location": location, "message": message, "type": kind}


def invalid_input_detail(fields: Iterable[str]) -> str:
    """The ``detail`` of every 422: ``invalid input: a, b`` (each field once, in order)."""
    return "invalid input: " + ", ".join(dict.fromkeys(fields))


class DomainError(Exception):
    """A refusal by a domain rule; subclasses fix the HTTP status and the problem slug."""

    status: ClassVar[int] = 400
    slug: ClassVar[str] = "bad-request"

    def __init__(self, detail: str, *, headers: dict[str, str] | None = None, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.headers = headers or {}
        self.extra = extra

    def problem_slug(self) -> str:
        return self.slug

    def members(self) -> dict[str, Any]:
        """Problem members beside type, title, status, detail and instance."""
        return dict(self.extra)


class NotFound(DomainError):
    status = 404
    slug = "not-found"

    def __init__(self, what: str, ident: object = None, *, detail: str | None = None) -> None:
        super().__init__(detail or (f"{what} {ident} not found" if ident is not None else f"{what} not found"))
        self.what = what
        self.ident = ident


class Forbidden(DomainError):
    status = 403
    slug = "forbidden"


class Conflict(DomainError):
    """A request the current state refuses; ``kind`` names the conflict (the problem slug)."""

    status = 409
    slug = "conflict"

    def __init__(self, detail: str, *, kind: str | None = None, headers: dict[str, str] | None = None, **extra: Any):
        super().__init__(detail, headers=headers, **extra)
        self.kind = kind or self.slug

    def problem_slug(self) -> str:
        return self.kind


class InvalidTransition(Conflict):
    """A state machine refused a move: from ``current`` only ``allowed`` may be requested."""

    slug = "invalid-transition"

    def __init__(self, detail: str, *, current: str, requested: str, allowed: Iterable[str]) -> None:
        self.current = current
        self.requested = requested
        self.allowed = list(allowed)
        super().__init__(detail)

    def members(self) -> dict[str, Any]:
        return {"current": self.current, "requested": self.requested, "allowed": self.allowed}


class InvalidInput(DomainError):
    """Input the schema let through that a rule refuses (422 naming the field or fields)."""

    status = 422
    slug = "validation-error"

    def __init__(self, field: str, message: str, location: str = "body", *, kind: str = "value_error") -> None:
        self.errors = [field_error(field, message, location, kind)]
        super().__init__(invalid_input_detail([field]))

    @classmethod
    def of(cls, errors: Iterable[dict[str, str]]) -> InvalidInput:
        """Several fields at once (items built with ``field_error``)."""
        items = list(errors)
        if not items:
            raise ValueError("an InvalidInput names at least one field")
        error = cls(items[0]["field"], items[0]["message"], items[0]["location"], kind=items[0]["type"])
        error.errors = items
        error.detail = invalid_input_detail(e["field"] for e in items)
        error.args = (error.detail,)
        return error

    @property
    def message(self) -> str:
        return self.errors[0]["message"]

    def members(self) -> dict[str, Any]:
        return {"errors": self.errors}


class Unavailable(DomainError):
    """A dependency this request needs is down for now; retry after ``retry_after`` seconds."""

    status = 503
    slug = "service-unavailable"

    def __init__(self, detail: str, *, retry_after: int = 1, **extra: Any) -> None:
        super().__init__(detail, headers={"Retry-After": str(retry_after)}, **extra)
