"""Customer value as pure functions: RFM quintiles and segments, frequency class, Pareto tiers,
relationship stage from the purchase trend, and the churn-risk score with its reasons."""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import TypeVar

K = TypeVar("K", bound=Hashable)


def quintiles(values: Mapping[K, float | Decimal | int]) -> dict[K, int]:
    """Score 1..5 by rank (5 = highest value); equal values get the same score."""
    ordered = sorted(values.items(), key=lambda kv: kv[1])
    n = len(ordered)
    scores: dict[K, int] = {}
    first_rank: dict[float | Decimal | int, int] = {}
    for rank, (key, value) in enumerate(ordered):
        r = first_rank.setdefault(value, rank)
        scores[key] = min(5, 1 + (5 * r) // n)
    return scores


def rfm_segment(r: int, f: int, m: int) -> str:
    """Segment names from the classic RFM grid (checked in order, first match wins)."""
    if r >= 4 and f >= 4 and m >= 4:
        return "champions"
    if r <= 2 and f >= 4 and m >= 4:
        return "cannot_lose"
    if r <= 2 and f >= 3:
        return "at_risk"
    if f >= 4:
        return "loyal"
    if r >= 4 and f == 1:
        return "new"
    if r >= 4:
        return "potential_loyalist"
    if r == 3:
        return "needs_attention"
    return "hibernating"


def frequency_class(
    purchase_count: int, first: datetime | None, last: datetime | None, heavy_days: int, medium_days: int
) -> str | None:
    """heavy (about weekly), medium (about monthly), light (rarer) from the mean purchase interval."""
    if purchase_count == 0 or first is None or last is None:
        return None
    if purchase_count == 1:
        return "light"
    # Mean interval <= N days, compared without division so that the SQL path agrees to the microsecond.
    span, gaps = last - first, purchase_count - 1
    if span <= timedelta(days=heavy_days * gaps):
        return "heavy"
    if span <= timedelta(days=medium_days * gaps):
        return "medium"
    return "light"


def pareto_tiers(
    monetary: Mapping[K, Decimal],
    *,
    key_share: Decimal,
    small_share: Decimal,
    lifetime: Mapping[K, Decimal] | None = None,
    vip_lifetime_value: Decimal | None = None,
) -> dict[K, str]:
    """key: the customers who make up the top ``key_share`` of revenue (the one crossing the line
    included); small: those in the bottom ``small_share`` (and anyone without revenue); the rest
    ordinary. A VIP lifetime value, when configured, makes a customer key whatever its share."""
    total = sum((v for v in monetary.values() if v > 0), Decimal(0))
    tiers: dict[K, str] = {}
    # Value descending, the key (customer id) breaking ties: the SQL path orders by (value DESC, id).
    ordered = sorted(monetary.items(), key=lambda kv: (-kv[1], kv[0]))
    above = Decimal(0)
    for key, value in ordered:
        if value <= 0 or total == 0:
            tiers[key] = "small"
            continue
        below_inclusive = total - above  # this customer's revenue and everyone's under it
        # Shares compared as products (exact decimals), not quotients rounded to 28 digits.
        if above < key_share * total:
            tiers[key] = "key"
        elif below_inclusive <= small_share * total:
            tiers[key] = "small"
        else:
            tiers[key] = "ordinary"
        above += value
    if vip_lifetime_value is not None and lifetime:
        for key, value in lifetime.items():
            if value >= vip_lifetime_value:
                tiers[key] = "key"
    return tiers


TREND_TOLERANCE = Decimal("0.2")


def trend(previous: Decimal | int, recent: Decimal | int, tolerance: Decimal = TREND_TOLERANCE) -> str:
    """rising, steady or falling: recent half-window against the one before."""
    previous, recent = Decimal(previous), Decimal(recent)
    if previous == 0:
        return "rising" if recent > 0 else "steady"
    # recent / previous against 1 ± tolerance, multiplied out by |previous| (exact, sign-safe).
    sign = 1 if previous > 0 else -1
    if recent * sign > abs(previous) * (1 + tolerance):
        return "rising"
    if recent * sign < abs(previous) * (1 - tolerance):
        return "falling"
    return "steady"


def relationship_stage(purchase_count: int, frequency_trend: str, value_trend: str) -> str | None:
    """exploration (new), formation (rising), stability (steady), decline (falling)."""
    if purchase_count == 0:
        return None
    if purchase_count == 1:
        return "exploration"
    trends = {frequency_trend, value_trend}
    if "falling" in trends and "rising" not in trends:
        return "decline"
    if "rising" in trends and "falling" not in trends:
        return "formation"
    return "stability"


@dataclass(frozen=True)
class RiskInputs:
    days_since_last_purchase: int | None
    churn_window_days: int
    frequency_trend: str = "steady"
    value_trend: str = "steady"
    open_tickets: int = 0
    escalated_tickets: int = 0
    last_csat: int | None = None
    overdue_invoices: int = 0
    sla_breaches: int = 0


@dataclass(frozen=True)
class Risk:
    score: int
    reasons: list[dict[str, object]] = field(default_factory=list)


def churn_risk(i: RiskInputs) -> Risk:
    """0..100 from the signals of docs/domain.md §1.8; each reason carries the points it added."""
    reasons: list[dict[str, object]] = []

    def add(code: str, points: int, detail: object) -> None:
        if points > 0:
            reasons.append({"code": code, "points": points, "detail": detail})

    if i.days_since_last_purchase is not None:
        share = i.days_since_last_purchase / i.churn_window_days
        add("days_since_last_purchase", 35 if share >= 1 else 20 if share >= 0.5 else 0, i.days_since_last_purchase)
    add("falling_frequency", 15 if i.frequency_trend == "falling" else 0, i.frequency_trend)
    add("falling_value", 10 if i.value_trend == "falling" else 0, i.value_trend)
    add("open_tickets", min(15, 5 * i.open_tickets), i.open_tickets)
    add("escalated_tickets", min(20, 10 * i.escalated_tickets), i.escalated_tickets)
    add("low_satisfaction", 15 if i.last_csat is not None and i.last_csat <= 2 else 0, i.last_csat)
    add("overdue_invoices", min(20, 10 * i.overdue_invoices), i.overdue_invoices)
    add("sla_breaches", min(10, 5 * i.sla_breaches), i.sla_breaches)
    return Risk(score=min(100, sum(int(r["points"]) for r in reasons)), reasons=reasons)  # type: ignore[call-overload]


def lifetime_amount(value: Decimal) -> Decimal:
    """Lifetime value as an event Amount: Money's 4 places (a converted sum can carry more)."""
    return value.quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)


def to_value_currency(
    amount: Decimal, currency: str, value_currency: str, fx_rates: Mapping[str, Decimal]
) -> Decimal | None:
    """Amount in the reporting currency, or None when no rate is configured for it."""
    if currency == value_currency:
        return amount
    rate = fx_rates.get(currency)
    return None if rate is None else amount * rate
