"""Column types that behave the same on PostgreSQL and SQLite: aware UTC times, exact money, JSON."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, Float, Integer, String, cast, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session
from sqlalchemy.types import DateTime, Numeric, TypeDecorator

from tessera_shared.db.schema import dialect_name

# The range of PostgreSQL's bigint and SQLite's INTEGER: a larger Python int fails in the driver.
BIGINT_MIN, BIGINT_MAX = -(2**63), 2**63 - 1


def is_bigint(value: object) -> bool:
    """An int (not a bool) that a 64-bit integer column can take."""
    return isinstance(value, int) and not isinstance(value, bool) and BIGINT_MIN <= value <= BIGINT_MAX


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC on the way in and out; SQLite keeps no zone, so it is restored here."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime refused: use timezone-aware UTC")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Money(TypeDecorator[Decimal]):
    """Exact decimal: NUMERIC on PostgreSQL, text on SQLite (whose NUMERIC is a float)."""

    impl = Numeric(20, 4)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> Any:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(40))
        return dialect.type_descriptor(Numeric(20, 4, asdecimal=True))

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        return str(Decimal(value)) if dialect.name == "sqlite" else Decimal(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        return None if value is None else Decimal(str(value))


class MoneySum:
    """Exact SUM of a Money expression on both databases.

    PostgreSQL sums NUMERIC exactly; SQLite keeps Money as text and would sum it as floats, so
    there each amount is scaled to an integer of 1/10000 units (Money's scale) first.
    """

    SCALE = 10_000

    def __init__(self, session: AsyncSession | Session) -> None:
        self.sqlite = dialect_name(session) == "sqlite"

    def sum(self, expr: Any) -> Any:
        if self.sqlite:
            return func.coalesce(func.sum(cast(func.round(cast(expr, Float) * self.SCALE), Integer)), 0)
        return func.coalesce(func.sum(expr), 0)

    def value(self, raw: Any) -> Decimal:
        if raw is None:
            return Decimal("0")
        if self.sqlite:
            return (Decimal(int(raw)) / self.SCALE).normalize() + Decimal("0.0000")
        return Decimal(str(raw))


# JSON that is JSONB (indexable) on PostgreSQL.
JSONType = JSON().with_variant(JSONB(), "postgresql")
