"""The lifecycle state machine: every allowed and every forbidden edge, and what facts cause."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from tessera_customer.lifecycle.rules import (
    STATUSES,
    allowed_transitions,
    can_transition,
    check_transition,
    is_churned,
    merged_status_steps,
    purchase_steps,
)
from tessera_shared.errors import InvalidTransition

ALLOWED = {
    ("non_customer", "prospect"),
    ("prospect", "first_time"),
    ("prospect", "non_customer"),
    ("first_time", "repeat"),
    ("repeat", "loyal"),
    ("first_time", "churned"),
    ("repeat", "churned"),
    ("loyal", "churned"),
    ("churned", "repeat"),
    ("churned", "non_customer"),
}


@pytest.mark.parametrize(("a", "b"), sorted(itertools.product(STATUSES, STATUSES)))
def test_every_edge(a: str, b: str) -> None:
    assert can_transition(a, b) is ((a, b) in ALLOWED)
    assert (b in allowed_transitions(a)) is ((a, b) in ALLOWED)
    if (a, b) in ALLOWED:
        check_transition(a, b)
    else:
        with pytest.raises(InvalidTransition) as refused:
            check_transition(a, b)
        assert refused.value.members() == {"current": a, "requested": b, "allowed": allowed_transitions(a)}
        assert refused.value.status == 409 and refused.value.problem_slug() == "invalid-transition"


def test_allowed_moves_list_alphabetically() -> None:
    assert allowed_transitions("prospect") == ["first_time", "non_customer"]
    assert allowed_transitions("churned") == ["non_customer", "repeat"]
    assert allowed_transitions("unknown") == []


def steps(status: str, total: int, window: int, n: int = 3) -> list[tuple[str, str]]:
    return purchase_steps(
        status, purchases_total=total, purchases_in_window=window, loyal_min_purchases=n, reason="deal_won"
    )


def test_first_won_deal_makes_a_prospect_first_time() -> None:
    assert steps("prospect", 1, 1) == [("first_time", "deal_won")]


def test_non_customer_passes_through_prospect() -> None:
    assert steps("non_customer", 1, 1) == [("prospect", "deal_won"), ("first_time", "deal_won")]


def test_second_purchase_makes_repeat_and_n_in_window_loyal() -> None:
    assert steps("first_time", 2, 2) == [("repeat", "deal_won")]
    assert steps("repeat", 3, 2) == []
    assert steps("repeat", 3, 3) == [("loyal", "sustained_buying")]
    assert steps("first_time", 2, 2, n=2) == [("repeat", "deal_won"), ("loyal", "sustained_buying")]


def test_churned_buyer_is_won_back_as_repeat() -> None:
    assert steps("churned", 4, 1) == [("repeat", "won_back")]


def test_loyal_stays_loyal() -> None:
    assert steps("loyal", 9, 9) == []


def test_every_step_is_an_allowed_edge() -> None:
    for status in STATUSES:
        for total, window in [(1, 1), (2, 2), (5, 5)]:
            current = status
            for to, _ in steps(current, total, window, n=2):
                assert can_transition(current, to), (current, to)
                current = to


def test_churn_window() -> None:
    now = datetime(2026, 6, 1, tzinfo=UTC)
    assert is_churned("repeat", now - timedelta(days=365), now, 365)
    assert not is_churned("repeat", now - timedelta(days=364), now, 365)
    assert not is_churned("prospect", now - timedelta(days=900), now, 365)
    assert not is_churned("churned", now - timedelta(days=900), now, 365)
    assert not is_churned("loyal", None, now, 365)


NOW = datetime(2026, 6, 1, tzinfo=UTC)


def merged(status: str, dup: str, total: int, window: int, last_days_ago: int | None) -> list[tuple[str, str]]:
    last = NOW - timedelta(days=last_days_ago) if last_days_ago is not None else None
    return merged_status_steps(
        status,
        dup,
        purchases_total=total,
        purchases_in_window=window,
        last_purchase_at=last,
        now=NOW,
        loyal_min_purchases=3,
        churn_window_days=365,
    )


@pytest.mark.parametrize(
    ("status", "dup", "total", "window", "last", "expected"),
    [
        ("prospect", "first_time", 1, 1, 10, [("first_time", "merge")]),
        ("prospect", "loyal", 3, 3, 10, [("first_time", "merge"), ("repeat", "merge"), ("loyal", "sustained_buying")]),
        ("first_time", "first_time", 2, 2, 10, [("repeat", "merge")]),
        ("churned", "first_time", 3, 1, 10, [("repeat", "won_back")]),
        ("churned", "repeat", 4, 0, 400, []),
        ("loyal", "prospect", 5, 3, 10, []),
        ("prospect", "churned", 2, 0, 500, [("first_time", "merge"), ("repeat", "merge"), ("churned", "churn_window")]),
        ("non_customer", "prospect", 0, 0, None, [("prospect", "merge")]),
        ("prospect", "non_customer", 0, 0, None, []),
    ],
)
def test_merge_survivor_status_follows_combined_purchases(
    status: str, dup: str, total: int, window: int, last: int | None, expected: list[tuple[str, str]]
) -> None:
    result = merged(status, dup, total, window, last)
    assert result == expected
    current = status
    for to_status, _ in result:
        assert can_transition(current, to_status)  # every step is an edge of the machine
        current = to_status
