"""Overdue and dunning rules without I/O."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from typing import Literal

from tessera_billing.invoices.rules import INVOICE_STATUSES, InvoiceStatus

DunningAction = Literal["reminder", "final_notice", "collection"]


def days_overdue(due: date, as_of: date) -> int:
    """Days past the due date (0 on the due date itself); never counted from the invoice date."""
    return (as_of - due).days


# Open and not overdue yet: the statuses the invoice's machine lets go overdue (issued, partially_paid).
MAY_GO_OVERDUE = tuple(s for s in INVOICE_STATUSES.states if INVOICE_STATUSES.can(s, InvoiceStatus.OVERDUE.value))


def overdue_cutoff(as_of: date, grace_days: int) -> date:
    """The overdue rule: on ``as_of`` an open invoice is overdue when its due date is before this
    day, i.e. more than ``grace_days`` days past due (due on ``as_of`` itself is not overdue).

    The overdue job runs exactly this: its SQL is ``status IN MAY_GO_OVERDUE AND due_date < cutoff``
    (``dunning.service.goes_overdue_where``); ``goes_overdue`` is the same test on one invoice.
    """
    return as_of - timedelta(days=grace_days)


def goes_overdue(status: str, due: date, as_of: date, grace_days: int) -> bool:
    """Does the job mark this invoice overdue on ``as_of``? Open, not overdue yet, due before the cutoff."""
    return status in MAY_GO_OVERDUE and due < overdue_cutoff(as_of, grace_days)


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
