"""The customer lifecycle state machine (docs/domain.md §1.3), as pure functions."""

from __future__ import annotations

from datetime import datetime, timedelta

from tessera_shared.states import StateMachine

STATUSES = ("non_customer", "prospect", "first_time", "repeat", "loyal", "churned")
BUYING = frozenset({"first_time", "repeat", "loyal"})

TRANSITIONS: dict[str, frozenset[str]] = {
    "non_customer": frozenset({"prospect"}),
    "prospect": frozenset({"first_time", "non_customer"}),  # non_customer: disqualified
    "first_time": frozenset({"repeat", "churned"}),
    "repeat": frozenset({"loyal", "churned"}),
    "loyal": frozenset({"churned"}),
    "churned": frozenset({"repeat", "non_customer"}),  # won back, or given up
}


# Allowed moves list alphabetically: in a refusal's ``allowed`` and in the status read's ``allowed_transitions``.
LIFECYCLE = StateMachine("customer", TRANSITIONS, order=tuple(sorted(STATUSES)))


# The two reads below look the table up rather than call LIFECYCLE: the OpenAPI derivation
# counts every method of a module-level object a function names, so a route that only reads the
# moves would document the 409 that only check_transition raises.
def allowed_transitions(status: str) -> list[str]:
    return sorted(TRANSITIONS.get(status, frozenset()))


def can_transition(from_status: str, to_status: str) -> bool:
    return to_status in TRANSITIONS.get(from_status, frozenset())


def check_transition(from_status: str, to_status: str) -> None:
    """Refuse a move off the machine: InvalidTransition (409) with current, requested and allowed."""
    LIFECYCLE.check(from_status, to_status, reason=lambda a, b: f"a customer cannot move from {a} to {b}")


def purchase_steps(
    status: str,
    *,
    purchases_total: int,
    purchases_in_window: int,
    loyal_min_purchases: int,
    reason: str,
) -> list[tuple[str, str]]:
    """The (to_status, reason) steps a new purchase causes, each an allowed edge, in order.

    ``purchases_total`` and ``purchases_in_window`` already count the new purchase.
    """
    steps: list[tuple[str, str]] = []
    current = status
    if current == "non_customer":
        steps.append(("prospect", reason))
        current = "prospect"
    if current == "prospect":
        steps.append(("first_time", reason))
        current = "first_time"
        if purchases_total < 2:
            return steps
    if current == "churned":
        steps.append(("repeat", "won_back"))
        current = "repeat"
    if current == "first_time" and purchases_total >= 2:
        steps.append(("repeat", reason))
        current = "repeat"
    if current == "repeat" and purchases_in_window >= loyal_min_purchases:
        steps.append(("loyal", "sustained_buying"))
    return steps


def is_churned(status: str, last_purchase_at: datetime | None, as_of: datetime, window_days: int) -> bool:
    """A buying customer with no purchase within the churn window has churned."""
    if status not in BUYING or last_purchase_at is None:
        return False
    return last_purchase_at <= as_of - timedelta(days=window_days)


def merged_status_steps(
    status: str,
    duplicate_status: str,
    *,
    purchases_total: int,
    purchases_in_window: int,
    last_purchase_at: datetime | None,
    now: datetime,
    loyal_min_purchases: int,
    churn_window_days: int,
) -> list[tuple[str, str]]:
    """The steps that bring a merge survivor to the status its combined purchases warrant.

    Counts are of the combined purchases; a merge only adds purchases, so the walk goes forward
    along the machine's edges, then to churned when even the latest purchase is outside the window."""
    if purchases_total == 0:
        return [("prospect", "merge")] if status == "non_customer" and duplicate_status == "prospect" else []
    recent = last_purchase_at is not None and last_purchase_at > now - timedelta(days=churn_window_days)
    if status == "churned" and not recent:
        return []
    steps = purchase_steps(
        status,
        purchases_total=purchases_total,
        purchases_in_window=purchases_in_window,
        loyal_min_purchases=loyal_min_purchases,
        reason="merge",
    )
    final = steps[-1][0] if steps else status
    if not recent and final in BUYING:
        steps.append(("churned", "churn_window"))
    return steps
