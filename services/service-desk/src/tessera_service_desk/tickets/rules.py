"""Ticket rules (pure): the status machine, reopen window, and the priority a ticket starts at."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

PRIORITIES = ("low", "normal", "high", "urgent")
STATUSES = ("new", "open", "pending", "on_hold", "solved", "closed")
OPEN_STATUSES = frozenset({"new", "open", "pending", "on_hold"})

# closed is terminal: a new problem is a new ticket, and its survey was already sent.
TRANSITIONS: dict[str, frozenset[str]] = {
    "new": frozenset({"open", "pending", "on_hold", "solved", "closed"}),
    "open": frozenset({"pending", "on_hold", "solved", "closed"}),
    "pending": frozenset({"open", "on_hold", "solved", "closed"}),
    "on_hold": frozenset({"open", "pending", "solved", "closed"}),
    "solved": frozenset({"open", "closed"}),
    "closed": frozenset(),
}


@dataclass(frozen=True)
class TransitionRefused(Exception):
    current: str
    requested: str
    allowed: tuple[str, ...]
    reason: str


def allowed_transitions(
    current: str, *, solved_at: datetime | None, now: datetime, reopen_window: timedelta
) -> tuple[str, ...]:
    allowed = set(TRANSITIONS[current])
    if current == "solved" and (solved_at is None or now - solved_at > reopen_window):
        allowed.discard("open")  # past the reopen window only closing remains
    return tuple(s for s in STATUSES if s in allowed)


def check_transition(
    current: str, requested: str, *, solved_at: datetime | None, now: datetime, reopen_window: timedelta
) -> None:
    allowed = allowed_transitions(current, solved_at=solved_at, now=now, reopen_window=reopen_window)
    if requested in allowed:
        return
    if current == "solved" and requested == "open":
        reason = f"the reopen window of {reopen_window} after solving has passed"
    elif current == "closed":
        reason = "a closed ticket is final; open a new ticket"
    else:
        reason = f"{current} cannot move to {requested}"
    raise TransitionRefused(current, requested, allowed, reason)


def starting_priority(requested: str, category: str, tier: str) -> str:
    """Complaints from key customers start one priority higher (urgent stays urgent)."""
    if category == "complaint" and tier == "key":
        return PRIORITIES[min(PRIORITIES.index(requested) + 1, len(PRIORITIES) - 1)]
    return requested
