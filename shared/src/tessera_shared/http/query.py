"""Strict ISO 8601 dates and times for query parameters.

Pydantic's lax mode reads a number as a Unix time, so ``?to=0`` was 1970-01-01 (a 200 with an
empty report instead of a 422). These types take only ISO 8601 text: ``IsoDate`` a calendar
date (``2026-03-31``), ``IsoDatetime`` a date and time (``2026-03-31T12:00:00Z``; a bare date
is midnight). Anything else is a 422 naming the parameter. Use them for every date or time in a
query (a contract test calls each such parameter with ``0``).
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import AwareDatetime, BeforeValidator

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}([Tt ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?([Zz]|[+-]\d{2}:?\d{2})?)?")


def _iso_date(value: Any) -> Any:
    if isinstance(value, str) and not _DATE.fullmatch(value):
        raise ValueError("must be an ISO 8601 date, e.g. 2026-03-31")
    return value


def _iso_datetime(value: Any) -> Any:
    if isinstance(value, str) and not _DATETIME.fullmatch(value):
        raise ValueError("must be an ISO 8601 date-time, e.g. 2026-03-31T12:00:00Z")
    return value


IsoDate = Annotated[date, BeforeValidator(_iso_date)]
IsoDatetime = Annotated[datetime, BeforeValidator(_iso_datetime)]
IsoAwareDatetime = Annotated[AwareDatetime, BeforeValidator(_iso_datetime)]
