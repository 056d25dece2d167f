"""Announcing what is deprecated, on the answers that use it (docs/api.md, "Versions and
deprecation"): ``Deprecation`` (RFC 9745: since when, ``@<epoch seconds>``) and ``Sunset``
(RFC 8594: the earliest removal, an HTTP-date). A deprecated field, parameter or operation
lives at least ``MIN_LIFETIME`` after it was first announced."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

MIN_LIFETIME = timedelta(days=183)  # six months


@dataclass(frozen=True)
class Deprecated:
    what: str
    since: datetime  # announced (UTC)
    sunset: datetime  # removed no earlier than this (UTC)

    def __post_init__(self) -> None:
        if self.sunset - self.since < MIN_LIFETIME:
            raise ValueError(f"{self.what}: a deprecation lives at least {MIN_LIFETIME.days} days")

    def headers(self) -> dict[str, str]:
        return {
            "Deprecation": f"@{int(self.since.timestamp())}",
            "Sunset": format_datetime(self.sunset.astimezone(UTC), usegmt=True),
        }

    def raw_headers(self) -> list[tuple[bytes, bytes]]:
        return [(name.lower().encode(), value.encode()) for name, value in self.headers().items()]


# The reports' ?from=&to= (renamed ?since=&until=: tessera_shared.http.renamed).
REPORT_RANGE_NAMES = Deprecated(
    "the reports' ?from= and ?to=",
    since=datetime(2026, 12, 4, 23, 27, 32, tzinfo=UTC),
    sunset=datetime(2027, 6, 30, tzinfo=UTC),
)
# POST /v1/customers/import taking either format by Content-Type (one path per format instead).
IMPORT_BY_CONTENT_TYPE = Deprecated(
    "POST /v1/customers/import",
    since=datetime(2026, 12, 4, 23, 21, 22, tzinfo=UTC),
    sunset=datetime(2027, 6, 30, tzinfo=UTC),
)
