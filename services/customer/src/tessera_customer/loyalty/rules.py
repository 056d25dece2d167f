"""Member-card rules: points earned on paid invoices and the member level they reach."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal


def points_for(amount: Decimal, currency: str, rates: Mapping[str, Decimal], default_rate: Decimal) -> int:
    """Whole points: the currency's rate per whole unit paid, rounded down; never negative."""
    rate = rates.get(currency, default_rate)
    return int((amount * rate) // 1) if amount > 0 else 0


def level_for(earned_total: int, levels: Mapping[str, tuple[int, Decimal]]) -> tuple[str, Decimal]:
    """The highest level whose threshold the points earned so far reach, with its discount rate."""
    reached = [
        (threshold, name, discount) for name, (threshold, discount) in levels.items() if earned_total >= threshold
    ]
    if not reached:
        name, (_, discount) = min(levels.items(), key=lambda kv: kv[1][0])
        return name, discount
    _, name, discount = max(reached)
    return name, discount


def balance_after_redemption(balance: int, points: int) -> int | None:
    """The new balance, or None when the redemption would make it negative."""
    if points <= 0 or points > balance:
        return None
    return balance - points
