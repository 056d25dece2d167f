"""Pure rules of the pipeline: stages, probabilities, line arithmetic, large-deal alerts (no I/O)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from tessera_sales.money import quantize

OPEN_STAGES = ("prospecting", "qualification", "proposal", "negotiation")
CLOSED_STAGES = ("won", "lost")
STAGES = OPEN_STAGES + CLOSED_STAGES

DEFAULT_PROBABILITY = {"prospecting": 10, "qualification": 20, "proposal": 50, "negotiation": 80, "won": 100, "lost": 0}

# Position in the funnel; lost is off the funnel.
STAGE_RANK = {"prospecting": 1, "qualification": 2, "proposal": 3, "negotiation": 4, "won": 5, "lost": 0}


class StageError(ValueError):
    """A move the pipeline does not allow; ``allowed`` lists the moves that are."""

    def __init__(self, message: str, allowed: list[str]) -> None:
        super().__init__(message)
        self.allowed = allowed


def is_closed(stage: str) -> bool:
    return stage in CLOSED_STAGES


def allowed_moves(stage: str) -> list[str]:
    """Where PATCH may move a deal from ``stage``: any other open stage; won/lost go through /win, /lose."""
    if is_closed(stage):
        return []
    return [s for s in OPEN_STAGES if s != stage]


def check_move(current: str, target: str) -> None:
    if target == current:
        return
    if is_closed(current):
        raise StageError(f"a {current} deal is closed; a manager may reopen it", allowed=[])
    if target in CLOSED_STAGES:
        raise StageError(
            f"use POST /v1/deals/{{id}}/{'win' if target == 'won' else 'lose'} to close a deal",
            allowed=allowed_moves(current),
        )
    if target not in OPEN_STAGES:
        raise StageError(f"unknown stage {target!r}", allowed=allowed_moves(current))


def check_close(current: str) -> None:
    if is_closed(current):
        raise StageError(f"the deal is already {current}", allowed=[])


def check_reopen(current: str, target: str) -> None:
    if not is_closed(current):
        raise StageError("only a won or lost deal can be reopened", allowed=allowed_moves(current))
    if target not in OPEN_STAGES:
        raise StageError(f"a deal reopens into an open stage, not {target!r}", allowed=list(OPEN_STAGES))


def probability_for(stage: str, override: int | None = None) -> int:
    """The stage's default unless someone chose another; won and lost are always 100 and 0."""
    if is_closed(stage) or override is None:
        return DEFAULT_PROBABILITY[stage]
    return override


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
