"""Loyalty arithmetic in billing, without I/O (docs/domain.md §10.5)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from tessera_billing.money import ZERO, quantize

HUNDRED = Decimal(100)


@dataclass(frozen=True)
class DiscountLine:
    """A negative invoice line: ``net`` (< 0) before tax at ``tax_rate_percent``."""

    description: str
    net: Decimal
    tax_rate_percent: Decimal
    rate: Decimal


def _percent(value: Decimal) -> str:
    """5.0000 -> 5, 2.5000 -> 2.5 (never exponent notation)."""
    return f"{value.normalize():f}"


def member_discount_lines(
    level: str, rate: Decimal, lines: Iterable[tuple[Decimal, Decimal]], currency: str
) -> list[DiscountLine]:
    """The member discount for an invoice whose lines are (net, tax rate): per tax rate, the rate of
    the nets at that tax rate, rounded half-up to the currency's minor unit, as one negative line
    taxed at that rate (one line when every line has the same rate). None at a 0 % level."""
    if rate <= ZERO:
        return []
    bases: dict[Decimal, Decimal] = {}
    for net, tax_rate in lines:
        bases[tax_rate] = bases.get(tax_rate, ZERO) + net
    name = f"{level[:1].upper()}{level[1:]} member discount {_percent(rate)}%"
    out = []
    for tax_rate, base in bases.items():
        amount = quantize(base * rate / HUNDRED, currency)
        if amount <= ZERO:
            continue
        suffix = f" (tax {_percent(tax_rate)}%)" if len(bases) > 1 else ""
        out.append(DiscountLine(f"{name}{suffix}", -amount, tax_rate, rate))
    return out


def point_value(currency: str, values: Mapping[str, Decimal], default: Decimal) -> Decimal:
    """What one point pays in ``currency``."""
    return values.get(currency, default)


def points_amount(points: int, value: Decimal, currency: str) -> Decimal:
    """What ``points`` pay: points x the point's value, rounded half-up to the currency's minor unit."""
    return quantize(Decimal(points) * value, currency)


def most_points(open_amount: Decimal, value: Decimal, currency: str) -> int:
    """The most points whose amount stays within ``open_amount``."""
    if open_amount <= ZERO:
        return 0
    n = int(open_amount // value)
    while n > 0 and points_amount(n, value, currency) > open_amount:
        n -= 1
    while points_amount(n + 1, value, currency) <= open_amount:
        n += 1
    return n
