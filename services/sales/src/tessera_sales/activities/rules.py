"""Pure rules for activities: schedules and what counts as overdue or due for a reminder."""

from __future__ import annotations

from datetime import datetime, timedelta

# A collection task is due this long after billing reports the step.
COLLECTION_TASK_DUE_IN = timedelta(days=2)


def check_schedule(due_at: datetime | None, remind_at: datetime | None) -> str | None:
    """The problem with a schedule, or None: a reminder after the due time is useless."""
    if due_at is not None and remind_at is not None and remind_at > due_at:
        return "remind_at must not be after due_at"
    return None


def is_overdue(kind: str, due_at: datetime | None, completed_at: datetime | None, as_of: datetime) -> bool:
    return kind == "task" and completed_at is None and due_at is not None and due_at < as_of


def reminder_due(
    remind_at: datetime | None, reminded_at: datetime | None, completed_at: datetime | None, as_of: datetime
) -> bool:
    """A reminder fires once, when its time has come, and never for a completed activity."""
    return remind_at is not None and reminded_at is None and completed_at is None and remind_at <= as_of


def collection_key(invoice_id: object, step: int | None) -> str:
    """One collection task per invoice and dunning step (None: the overdue notice itself)."""
    return f"collection:{invoice_id}:{'overdue' if step is None else f'step:{step}'}"
