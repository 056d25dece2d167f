"""Customers who bought what you bought also bought ...: co-occurrence over won deals' lines."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Recommendation:
    product_code: str
    # How many similar customers bought it: the evidence behind the suggestion.
    evidence: int


def rank(evidence: Mapping[str, int], limit: int) -> list[Recommendation]:
    """Most evidence first; ties by product code so the answer is stable."""
    ordered = sorted(evidence.items(), key=lambda kv: (-kv[1], kv[0]))
    return [Recommendation(code, n) for code, n in ordered[:limit] if n > 0]


def co_occurrence(own: set[str], baskets: Mapping[Any, Iterable[str]], limit: int = 10) -> list[Recommendation]:
    """The reference definition the SQL implements: neighbours share a product with ``own``;
    each neighbour counts once for every product it bought that ``own`` lacks. ``baskets`` maps each
    neighbour (any key; only the values are read) to the products it bought."""
    counts: Counter[str] = Counter()
    for products in baskets.values():
        bought = set(products)
        if bought & own:
            counts.update(bought - own)
    return rank(counts, limit)
