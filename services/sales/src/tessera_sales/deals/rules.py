"""Pure rules of the pipeline: the stage machines, probabilities, line arithmetic, large-deal alerts (no I/O)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from tessera_sales.money import quantize
from tessera_shared.errors import InvalidTransition
from tessera_shared.states import StateMachine

OPEN_STAGES = ("prospecting", "qualification", "proposal", "negotiation")
CLOSED_STAGES = ("won", "lost")
STAGES = OPEN_STAGES + CLOSED_STAGES

DEFAULT_PROBABILITY = {"prospecting": 10, "qualification": 20, "proposal": 50, "negotiation": 80, "won": 100, "lost": 0}

# Position in the funnel; lost is off the funnel.
STAGE_RANK = {"prospecting": 1, "qualification": 2, "proposal": 3, "negotiation": 4, "won": 5, "lost": 0}


# The moves of a deal's stage, one machine per way of moving it. PATCH moves an open deal between
# open stages; POST /win and /lose close it; POST /reopen (managers) opens a closed one again.
PIPELINE = StateMachine(
    "deal", {**{s: [t for t in OPEN_STAGES if t != s] for s in OPEN_STAGES}, "won": [], "lost": []}, order=STAGES
)
CLOSING = StateMachine("deal", {**{s: CLOSED_STAGES for s in OPEN_STAGES}, "won": [], "lost": []}, order=STAGES)
REOPENING = StateMachine(
    "deal", {**{s: [] for s in OPEN_STAGES}, "won": OPEN_STAGES, "lost": OPEN_STAGES}, order=STAGES
)


def is_closed(stage: str) -> bool:
    return stage in CLOSED_STAGES


def allowed_moves(stage: str) -> list[str]:
    """Where PATCH may move a deal from ``stage``: any other open stage; won/lost go through /win, /lose."""
    return PIPELINE.allowed(stage)


def check_open(current: str, requested: str) -> None:
    """A closed deal changes only by /reopen: any change to it is refused (409 ``invalid-transition``)."""
    if is_closed(current):
        raise InvalidTransition(
            f"a {current} deal is closed; a manager may reopen it",
            current=current,
            requested=requested,
            allowed=PIPELINE.allowed(current),
        )


def check_move(current: str, target: str) -> None:
    """A PATCH of the stage; staying put is no move."""
    if target == current:
        return
    check_open(current, target)
    if target in CLOSED_STAGES:
        hint = f"use POST /v1/deals/{{id}}/{'win' if target == 'won' else 'lose'} to close a deal"
        PIPELINE.check(current, target, reason=lambda *_: hint)
    PIPELINE.check(current, target, reason=lambda *_: f"unknown stage {target!r}")


def check_close(current: str, target: str) -> None:
    """POST /win (``target`` won) or /lose (lost)."""
    CLOSING.check(current, target, reason=lambda *_: f"the deal is already {current}")


def check_reopen(current: str, target: str) -> None:
    """POST /reopen: a closed deal into an open stage. An open deal moves by PATCH, so its refusal
    lists the moves PATCH allows."""
    if not is_closed(current):
        raise InvalidTransition(
            "only a won or lost deal can be reopened",
            current=current,
            requested=target,
            allowed=PIPELINE.allowed(current),
        )
    REOPENING.check(current, target, reason=lambda *_: f"a deal reopens into an open stage, not {target!r}")


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
