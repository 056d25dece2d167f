"""Overdue and dunning rules without I/O."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from typing import Literal

DunningAction = Literal["reminder", "final_notice", "collection"]


def days_overdue(due: date, as_of: date) -> int:
    """Days past the due date (0 on the due date itself); never counted from the invoice date."""
    return (as_of - due).days


def is_overdue(due: date, as_of: date, grace_days: int) -> bool:
    return days_overdue(due, as_of) > grace_days


def overdue_cutoff(as_of: date, grace_days: int) -> date:
    """Invoices due before this day are overdue on ``as_of`` (the SQL form of ``is_overdue``)."""
    return as_of - timedelta(days=grace_days)


def dunning_step_due(schedule: Sequence[int], days: int, last_step: int) -> int | None:
    """The step to announce now, if any: the highest reached, and only when not announced yet.

    A job that missed days catches up with the current step only: no burst of stale reminders.
    """
    reached = sum(1 for threshold in schedule if days >= threshold)
    return reached if reached > last_step else None


def dunning_action(step: int, steps: int) -> DunningAction:
    if step >= steps:
        return "collection"
    if step == steps - 1:
        return "final_notice"
    return "reminder"


def dunning_thresholds(schedule: Sequence[int], as_of: date) -> list[date]:
    """Latest due date that has reached each step on ``as_of`` (the SQL form of ``dunning_step_due``:
    step k is reached when due_date <= thresholds[k - 1])."""
    return [as_of - timedelta(days=days) for days in schedule]
