"""Campaign ROI (投入产出比): cash actually collected, not deal amounts, against what was spent."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal

from tessera_sales.money import from_minor


def roi(collected: Decimal, cost: Decimal) -> Decimal | None:
    """(collected - cost) / cost to 4 places; None when nothing was spent (undefined, not infinite)."""
    if cost <= 0:
        return None
    return ((collected - cost) / cost).quantize(Decimal("0.0001"), rounding=ROUND_HALF_EVEN)


@dataclass(frozen=True)
class CurrencyRoi:
    currency: str
    cost: Decimal
    collected: Decimal
    roi: Decimal | None


def roi_by_currency(cost_minor: dict[str, int], collected_minor: dict[str, int]) -> list[CurrencyRoi]:
    """One line per currency seen on either side; currencies are never mixed without a rate."""
    out = []
    for currency in sorted(set(cost_minor) | set(collected_minor)):
        cost = from_minor(cost_minor.get(currency, 0), currency)
        collected = from_minor(collected_minor.get(currency, 0), currency)
        out.append(CurrencyRoi(currency, cost, collected, roi(collected, cost)))
    return out
