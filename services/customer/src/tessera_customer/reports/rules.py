"""Retention arithmetic (pure)."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

ACTIVE = ("first_time", "repeat", "loyal")


def rate(part: int, whole: int) -> Decimal | None:
    """A share in percent with two decimals; None when there is nothing to divide by."""
    if whole <= 0:
        return None
    return (Decimal(part) * 100 / Decimal(whole)).quantize(Decimal("0.01"), ROUND_HALF_UP)


def retention_rate(active_at_start: int, active_at_end: int, acquired: int) -> Decimal | None:
    """Customer retention rate: (customers at the end - new ones) / customers at the start."""
    return rate(max(active_at_end - acquired, 0), active_at_start)
