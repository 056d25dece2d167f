"""Credit control without I/O: does a new amount fit under the limit."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

RATINGS = ("A", "B", "C", "D")  # A best, D worst


@dataclass(frozen=True)
class CreditDecision:
    fits: bool
    exposure: Decimal
    credit_limit: Decimal
    headroom: Decimal
    requested_amount: Decimal


def credit_check(credit_limit: Decimal, exposure: Decimal, requested: Decimal) -> CreditDecision:
    headroom = credit_limit - exposure
    return CreditDecision(
        fits=exposure + requested <= credit_limit,
        exposure=exposure,
        credit_limit=credit_limit,
        headroom=headroom,
        requested_amount=requested,
    )


def worse_rating(a: str, b: str) -> str:
    return max(a, b, key=RATINGS.index)
