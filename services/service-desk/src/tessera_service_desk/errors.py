"""Problems this service raises in several features."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from tessera_shared.http.errors import Problem


def invalid(field: str, message: str, location: str = "body") -> Problem:
    """A 422 naming the field, shaped like the framework's own validation errors."""
    return Problem(
        422,
        f"invalid input: {field}",
        slug="validation-error",
        errors=[{"field": field, "location": location, "message": message, "type": "value_error"}],
    )


def not_found(what: str, ident: object) -> Problem:
    return Problem(404, f"{what} {ident} not found")


def conflict(detail: str, *, allowed: Iterable[str] | None = None, slug: str = "conflict", **extra: Any) -> Problem:
    if allowed is not None:
        extra["allowed"] = list(allowed)
    return Problem(409, detail, slug=slug, **extra)


# PostgreSQL text cannot hold NUL; refusing it at the edge keeps such input a 422, not a 500.
NO_NUL = r"^[^\x00]*$"
EARLIEST, LATEST = datetime(1970, 1, 1, tzinfo=UTC), datetime(3000, 1, 1, tzinfo=UTC)


def instant(name: str, value: datetime | None, location: str = "query") -> datetime | None:
    """A time given by a client: must carry a zone and lie in a sane range (clock arithmetic follows)."""
    if value is None:
        return None
    if value.tzinfo is None:
        raise invalid(name, "must carry a time zone, e.g. 2026-01-05T09:00:00Z", location)
    if not EARLIEST <= value < LATEST:
        raise invalid(name, "must be between 1970 and 3000", location)
    return value
