"""Pure lead rules: the status machine and an explainable score (every point has a reason)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from tessera_shared.errors import InvalidTransition
from tessera_shared.states import StateMachine

STATUSES = ("new", "contacted", "qualified", "disqualified", "converted")

# Converted is reached only by POST /convert; disqualified leads may be revived as new.
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "new": ("contacted", "qualified", "disqualified"),
    "contacted": ("qualified", "disqualified"),
    "qualified": ("contacted", "disqualified"),
    "disqualified": ("new",),
    "converted": (),
}
CONVERTIBLE = ("new", "contacted", "qualified")
# The status moves PATCH makes (409 ``invalid-transition`` otherwise).
LEAD_STATUS = StateMachine("lead", TRANSITIONS, order=STATUSES)


def check_transition(current: str, target: str) -> None:
    """A PATCH of the status; staying put is no move."""
    if target == current:
        return
    LEAD_STATUS.check(current, target, reason=lambda *_: f"a {current} lead cannot become {target}")


def check_open(current: str, requested: str) -> None:
    """A converted lead is closed: any change to it is refused."""
    if current == "converted":
        raise InvalidTransition(
            "a converted lead is closed", current=current, requested=requested, allowed=LEAD_STATUS.allowed(current)
        )


def check_convertible(current: str) -> None:
    """POST /convert; the refusal lists the status moves the lead can make instead."""
    if current not in CONVERTIBLE:
        raise InvalidTransition(
            f"a {current} lead cannot be converted",
            current=current,
            requested="converted",
            allowed=LEAD_STATUS.allowed(current),
        )


SOURCE_POINTS = {
    "referral": 30,
    "partner": 25,
    "trade_show": 20,
    "web_form": 15,
    "campaign": 15,
    "cold_call": 5,
    "other": 0,
}
DECISION_TITLES = ("ceo", "cfo", "cto", "owner", "founder", "director", "head", "vp", "president", "manager")
ENGAGEMENT_POINTS, ENGAGEMENT_CAP = 5, 20
# Estimated value bands (in the lead's currency) and their fit points.
VALUE_BANDS = ((Decimal(100_000), 20), (Decimal(10_000), 10), (Decimal(1), 5))


@dataclass(frozen=True)
class LeadFacts:
    source: str
    company: str | None = None
    title: str | None = None
    email: str | None = None
    phone: str | None = None
    estimated_value: Decimal | None = None
    engagement_count: int = 0


@dataclass(frozen=True)
class ScorePart:
    rule: str
    points: int
    reason: str


def score(facts: LeadFacts) -> tuple[int, list[ScorePart]]:
    """0..100 from source, fit and engagement, with the reason for each part."""
    parts = [ScorePart("source", SOURCE_POINTS.get(facts.source, 0), f"source is {facts.source}")]
    if facts.company:
        parts.append(ScorePart("fit.company", 10, "a company is named"))
    if facts.title and any(word in facts.title.lower().split() for word in DECISION_TITLES):
        parts.append(ScorePart("fit.decision_maker", 15, f"title '{facts.title}' suggests a decision maker"))
    reachable = [c for c, v in (("email", facts.email), ("phone", facts.phone)) if v]
    if reachable:
        parts.append(ScorePart("fit.reachable", 5 * len(reachable), f"reachable by {' and '.join(reachable)}"))
    if facts.estimated_value is not None:
        for floor, points in VALUE_BANDS:
            if facts.estimated_value >= floor:
                parts.append(ScorePart("fit.value", points, f"estimated value of at least {floor}"))
                break
    if facts.engagement_count:
        points = min(facts.engagement_count * ENGAGEMENT_POINTS, ENGAGEMENT_CAP)
        parts.append(ScorePart("engagement", points, f"{facts.engagement_count} logged activities"))
    return min(sum(p.points for p in parts), 100), parts
