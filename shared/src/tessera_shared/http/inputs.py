"""Strict ISO 8601 dates and times, for query parameters and JSON bodies alike.

Pydantic's lax mode reads a number as a Unix time, so ``?to=0`` was 1970-01-01 (a 200 with an
empty report instead of a 422), and ``{"as_of": 0}`` the same in a body. These types take only
ISO 8601 text (or a date/datetime object, from Python callers): ``IsoDate`` a calendar date
(``2026-03-31``), ``IsoDatetime`` a date and time (``2026-03-31T12:00:00Z``; a bare date is
midnight). Anything else is a 422 naming the field. Use them for every date or time a client
sends (contract tests call each query parameter with ``0`` and check every body field); for
booleans in bodies use pydantic's ``StrictBool`` (lax mode took ``0``/``1``/``"yes"``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any

from annotated_types import GroupedMetadata
from pydantic import AfterValidator, AwareDatetime, BeforeValidator, StringConstraints

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}([Tt ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?([Zz]|[+-]\d{2}:?\d{2})?)?")


def _iso_date(value: Any) -> Any:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not _DATE.fullmatch(value):
        raise ValueError("must be an ISO 8601 date, e.g. 2026-03-31")
    return value


def _iso_datetime(value: Any) -> Any:
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not _DATETIME.fullmatch(value):
        raise ValueError("must be an ISO 8601 date-time, e.g. 2026-03-31T12:00:00Z")
    return value


IsoDate = Annotated[date, BeforeValidator(_iso_date)]
IsoDatetime = Annotated[datetime, BeforeValidator(_iso_datetime)]
IsoAwareDatetime = Annotated[AwareDatetime, BeforeValidator(_iso_datetime)]


def _strip(value: str) -> str:
    return value.strip()


@dataclass(frozen=True, slots=True)
class Trim(GroupedMetadata):
    """Text stored without surrounding whitespace, whose documented ``maxLength`` holds for what
    the client sends (``StringConstraints(strip_whitespace=True, max_length=n)`` checked the
    length after stripping, so a value the document calls too long was accepted). ``pattern``
    applies to what is sent too (it is documented), ``min_length`` to the stripped text.

    Metadata for ``Annotated[str, Trim(max_length=200)]``, a type mypy reads (as a ``str``)."""

    min_length: int | None = None
    max_length: int | None = None
    pattern: str | None = None

    def __iter__(self) -> Iterator[object]:
        yield StringConstraints(max_length=self.max_length, pattern=self.pattern)
        yield AfterValidator(_strip)
        yield StringConstraints(min_length=self.min_length)


def Trimmed(*, min_length: int | None = None, max_length: int | None = None, pattern: str | None = None) -> Any:
    """``Annotated[str, Trim(...)]`` built at runtime: pydantic reads it, mypy cannot (a call is
    not a type); new code writes ``Annotated[str, Trim(...)]``."""
    return Annotated[str, Trim(min_length=min_length, max_length=max_length, pattern=pattern)]
