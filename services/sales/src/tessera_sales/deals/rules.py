"""Pure rules of the pipeline: the stage machines, probabilities, line arithmetic, large-deal alerts (no I/O)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from tessera_sales.money import quantize
from tessera_sales.pipelines.rules import DEFAULT, Stages

# The default pipeline's stages (docs/domain.md); every other pipeline's are data (tessera_sales.pipelines).
OPEN_STAGES = DEFAULT.open
CLOSED_STAGES = DEFAULT.closed
STAGES = DEFAULT.order

DEFAULT_PROBABILITY = {d.key: d.probability for d in DEFAULT.defs}

# Position in the funnel; lost is off the funnel.
STAGE_RANK = DEFAULT.rank


# The moves of a deal's stage are its pipeline's (``Stages``): PATCH moves an open deal between
# open stages; POST /win and /lose close it; POST /reopen (managers) opens a closed one again.
# Each function takes the deal's pipeline; without it, the default pipeline's.


def is_closed(stage: str, stages: Stages = DEFAULT) -> bool:
    return stages.is_closed(stage)


def allowed_moves(stage: str, stages: Stages = DEFAULT) -> list[str]:
    """Where PATCH may move a deal from ``stage``: any other open stage; won/lost go through /win, /lose."""
    return stages.moving.allowed(stage)


def check_open(current: str, requested: str, stages: Stages = DEFAULT) -> None:
    """A closed deal changes only by /reopen: any change to it is refused (409 ``invalid-transition``)."""
    stages.check_open(current, requested)


def check_move(current: str, target: str, stages: Stages = DEFAULT) -> None:
    """A PATCH of the stage; staying put is no move."""
    stages.check_move(current, target)


def check_close(current: str, target: str, stages: Stages = DEFAULT) -> None:
    """POST /win (``target`` won) or /lose (lost)."""
    stages.check_close(current, target)


def check_reopen(current: str, target: str, stages: Stages = DEFAULT) -> None:
    """POST /reopen: a closed deal into an open stage."""
    stages.check_reopen(current, target)


def probability_for(stage: str, override: int | None = None, stages: Stages = DEFAULT) -> int:
    """The stage's default unless someone chose another; won and lost are always 100 and 0."""
    return stages.probability_for(stage, override)


@dataclass(frozen=True)
class Line:
    quantity: Decimal
    unit_price: Decimal
    discount_percent: Decimal = Decimal(0)


def line_total(line: Line, currency: str) -> Decimal:
    """quantity x unit price less the discount, rounded to the currency's minor unit."""
    gross = line.quantity * line.unit_price
    return quantize(gross * (Decimal(100) - line.discount_percent) / Decimal(100), currency)


def deal_amount(lines: Iterable[Line], currency: str) -> Decimal:
    """The deal's amount is the sum of its rounded lines (what the invoice will add up to)."""
    return quantize(sum((line_total(x, currency) for x in lines), Decimal(0)), currency)


def is_large(amount: Decimal, threshold: Decimal | None) -> bool:
    """Above the currency's threshold; a currency without one is never large."""
    return threshold is not None and amount > threshold


def crosses_large_threshold(was_large: bool, amount: Decimal, threshold: Decimal | None) -> bool:
    """Alert when a deal is created large or grows past the threshold, not on every later change."""
    return is_large(amount, threshold) and not was_large
