"""Pure report arithmetic: the SQL aggregates give sums and counts, these turn them into figures."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal

from tessera_sales.deals.rules import STAGE_RANK
from tessera_sales.money import from_minor, minor_exponent, quantize
from tessera_sales.pipelines.rules import DEFAULT

# The default pipeline's funnel; every pipeline's is ``Stages.funnel`` (its open stages in order, then won).
FUNNEL_STAGES = DEFAULT.funnel


def weighted_amount(amount_minor_times_probability: int, currency: str) -> Decimal:
    """Σ(amount * probability%) from Σ(amount_minor * probability): one rounding, at the end."""
    value = Decimal(amount_minor_times_probability) / Decimal(100)
    return quantize(value.scaleb(-minor_exponent(currency)), currency)


@dataclass(frozen=True)
class ForecastLine:
    close_month: str | None
    owner_id: str | None
    currency: str
    deals: int
    pipeline: Decimal
    weighted: Decimal


def forecast_line(
    close_month: str | None,
    owner_id: str | None,
    currency: str,
    deals: int,
    amount_minor: int,
    weighted_minor_x100: int,
) -> ForecastLine:
    return ForecastLine(
        close_month,
        owner_id,
        currency,
        deals,
        from_minor(amount_minor, currency),
        weighted_amount(weighted_minor_x100, currency),
    )


def totals_by_month(lines: list[ForecastLine]) -> list[ForecastLine]:
    """The same figures summed over owners, per close month and currency."""
    acc: dict[tuple[str | None, str], ForecastLine] = {}
    for x in lines:
        key = (x.close_month, x.currency)
        prev = acc.get(key)
        acc[key] = (
            x
            if prev is None
            else ForecastLine(
                x.close_month,
                None,
                x.currency,
                prev.deals + x.deals,
                prev.pipeline + x.pipeline,
                prev.weighted + x.weighted,
            )
        )
    return [
        ForecastLine(m, None, c, v.deals, v.pipeline, v.weighted)
        for (m, c), v in sorted(acc.items(), key=lambda kv: (kv[0][0] or "9999-99", kv[0][1]))
    ]


def ratio(part: int, whole: int) -> Decimal | None:
    """part/whole as a percentage with one decimal; None when there is nothing to divide."""
    if whole == 0:
        return None
    return (Decimal(part) * 100 / Decimal(whole)).quantize(Decimal("0.1"), rounding=ROUND_HALF_EVEN)


@dataclass(frozen=True)
class FunnelStep:
    stage: str
    reached: int
    conversion_to_next: Decimal | None


def funnel(
    deals_by_furthest_rank: dict[int, int],
    stages: tuple[str, ...] = FUNNEL_STAGES,
    rank: dict[str, int] = STAGE_RANK,
) -> list[FunnelStep]:
    """A deal that got to a stage passed every stage before it, even when created further down.
    ``stages`` is the pipeline's funnel in order and ``rank`` their ranks (the default pipeline's without)."""
    steps = []
    reached = [sum(n for r, n in deals_by_furthest_rank.items() if r >= rank[s]) for s in stages]
    for i, stage in enumerate(stages):
        nxt = ratio(reached[i + 1], reached[i]) if i + 1 < len(stages) else None
        steps.append(FunnelStep(stage, reached[i], nxt))
    return steps


def win_rate(won: int, lost: int) -> Decimal | None:
    """成单率: won out of closed deals."""
    return ratio(won, won + lost)


def average_seconds(total: int | None, count: int) -> int | None:
    if not count or total is None:
        return None
    return int((Decimal(total) / count).to_integral_value(rounding=ROUND_HALF_EVEN))
