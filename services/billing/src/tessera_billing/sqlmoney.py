"""Exact money sums in SQL on both databases.

PostgreSQL sums NUMERIC exactly. SQLite keeps Money as text and would sum it as floats, so
there each amount is scaled to an integer of 1/10000 units first (exact below ~10^14).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import Float, Integer, cast, func
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import ColumnElement

_SCALE = 10_000


class MoneySum:
    def __init__(self, session: AsyncSession) -> None:
        self.sqlite = session.bind.dialect.name == "sqlite"

    def sum(self, expr: ColumnElement[Any]) -> ColumnElement[Any]:
        if self.sqlite:
            return func.coalesce(func.sum(cast(func.round(cast(expr, Float) * _SCALE), Integer)), 0)
        return func.coalesce(func.sum(expr), 0)

    def value(self, raw: Any) -> Decimal:
        if raw is None:
            return Decimal("0")
        if self.sqlite:
            return (Decimal(int(raw)) / _SCALE).normalize() + Decimal("0.0000")
        return Decimal(str(raw))
