"""Ticket rules (pure): the status machine, reopen window, and the priority a ticket starts at."""

from __future__ import annotations

from datetime import datetime, timedelta

from tessera_shared.errors import Conflict, InvalidTransition
from tessera_shared.states import StateMachine

PRIORITIES = ("low", "normal", "high", "urgent")
STATUSES = ("new", "open", "pending", "on_hold", "solved", "closed")
OPEN_STATUSES = frozenset({"new", "open", "pending", "on_hold"})

# closed is terminal: a new problem is a new ticket, and its survey was already sent.
TICKET_STATUS = StateMachine(
    "ticket",
    {
        "new": ("open", "pending", "on_hold", "solved", "closed"),
        "open": ("pending", "on_hold", "solved", "closed"),
        "pending": ("open", "on_hold", "solved", "closed"),
        "on_hold": ("open", "pending", "solved", "closed"),
        "solved": ("open", "closed"),
        "closed": (),
    },
    order=STATUSES,
)
CLOSED_IS_FINAL = "a closed ticket is final; open a new ticket"


class ClosedTicket(Conflict):
    """A closed ticket takes nothing more (a comment): 409 ``ticket-closed``."""

    slug = "ticket-closed"


def allowed_transitions(
    current: str, *, solved_at: datetime | None, now: datetime, reopen_window: timedelta
) -> tuple[str, ...]:
    """The table's moves, less a reopen once the window after solving has passed."""
    allowed = TICKET_STATUS.allowed(current)
    if current == "solved" and (solved_at is None or now - solved_at > reopen_window):
        allowed.remove("open")  # past the reopen window only closing remains
    return tuple(allowed)


def check_transition(
    current: str, requested: str, *, solved_at: datetime | None, now: datetime, reopen_window: timedelta
) -> None:
    """Refuse a move the table or the reopen window does not allow (409 ``invalid-transition``)."""
    allowed = allowed_transitions(current, solved_at=solved_at, now=now, reopen_window=reopen_window)
    if requested in allowed:
        return
    if current == "solved" and requested == "open":
        reason = f"the reopen window of {reopen_window} after solving has passed"
    elif current == "closed":
        reason = CLOSED_IS_FINAL
    else:
        reason = f"{current} cannot move to {requested}"
    raise InvalidTransition(reason, current=current, requested=requested, allowed=allowed)


def check_changeable(current: str, requested: str | None) -> None:
    """A closed ticket is final: no field of it changes. ``requested`` is the status a change
    names (its current one when it names none)."""
    if TICKET_STATUS.is_final(current):
        raise InvalidTransition(CLOSED_IS_FINAL, current=current, requested=requested or current, allowed=[])


def check_escalation(current: str) -> None:
    """Only an open ticket (new, open, pending, on hold) is escalated."""
    if current not in OPEN_STATUSES:
        raise InvalidTransition(
            f"a {current} ticket cannot be escalated", current=current, requested="escalated", allowed=[]
        )


def check_comment(current: str) -> None:
    """A closed ticket takes no more comments."""
    if TICKET_STATUS.is_final(current):
        raise ClosedTicket("a closed ticket takes no more comments; open a new ticket", allowed=[])


def starting_priority(requested: str, category: str, tier: str) -> str:
    """Complaints from key customers start one priority higher (urgent stays urgent)."""
    if category == "complaint" and tier == "key":
        return PRIORITIES[min(PRIORITIES.index(requested) + 1, len(PRIORITIES) - 1)]
    return requested
