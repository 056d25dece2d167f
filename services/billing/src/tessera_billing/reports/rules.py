"""Report rules without I/O: ageing buckets, the roll-forward identity, days sales outstanding."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

BUCKETS = ("current", "days_1_30", "days_31_60", "days_61_90", "over_90")
# The last day overdue of each bucket but the open-ended last one.
_LAST_DAY = (0, 30, 60, 90)


def bucket_for(days_overdue: int) -> str:
    for name, last in zip(BUCKETS, _LAST_DAY, strict=False):
        if days_overdue <= last:
            return name
    return BUCKETS[-1]


def bucket_thresholds(as_of: date) -> tuple[date, ...]:
    """Earliest due date of each bucket but the last: the same rule, as due-date bounds for SQL."""
    return tuple(as_of - timedelta(days=last) for last in _LAST_DAY)


def bucket_by_due_date(due: date, as_of: date) -> str:
    for name, earliest_due in zip(BUCKETS, bucket_thresholds(as_of), strict=False):
        if due >= earliest_due:
            return name
    return BUCKETS[-1]


def closing_balance(
    opening: Decimal, invoiced: Decimal, collected: Decimal, written_off: Decimal, voided: Decimal
) -> Decimal:
    return opening + invoiced - collected - written_off - voided


def month_bounds(month: str) -> tuple[date, date]:
    """'2026-03' -> (2026-03-01, 2026-04-01): first day, and first day of the next month."""
    year, mon = (int(p) for p in month.split("-"))
    start = date(year, mon, 1)
    return start, date(year + mon // 12, mon % 12 + 1, 1)


def days_sales_outstanding(receivables: Decimal, sales: Decimal, days: int) -> Decimal | None:
    """Receivables / credit sales of the period * its days; None when nothing was sold."""
    if sales <= 0:
        return None
    return (receivables / sales * days).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
