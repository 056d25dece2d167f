"""Business-hours arithmetic as pure code: working days, daily hours, holidays, a time zone.

Times go in and out as aware datetimes; durations are real elapsed time inside working
windows, so a window that spans a DST switch counts the hour that really passed.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

# A calendar with no working time at all would loop for ever; ten years is "never".
_MAX_DAYS = 3660


@dataclass(frozen=True)
class BusinessCalendar:
    timezone: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))
    # Monday is 0, as in date.weekday().
    working_days: frozenset[int] = frozenset({0, 1, 2, 3, 4})
    opens: time = time(9, 0)
    # None means midnight at the end of the day (a 24-hour day).
    closes: time | None = time(17, 0)
    holidays: frozenset[date] = frozenset()

    def __post_init__(self) -> None:
        if not self.working_days <= set(range(7)):
            raise ValueError("working_days must be weekday numbers 0 (Monday) to 6 (Sunday)")
        if self.closes is not None and self.closes <= self.opens:
            raise ValueError("closes must be after opens")

    @classmethod
    def always_open(cls) -> BusinessCalendar:
        """24x7: every minute counts (urgent work, or a policy without business hours)."""
        return cls(working_days=frozenset(range(7)), opens=time(0, 0), closes=None)

    def window(self, day: date) -> tuple[datetime, datetime] | None:
        """The UTC start and end of ``day``'s working hours, or None on a day off."""
        if day.weekday() not in self.working_days or day in self.holidays:
            return None
        start = datetime.combine(day, self.opens, tzinfo=self.timezone).astimezone(UTC)
        if self.closes is None:
            end_local = datetime.combine(day + timedelta(days=1), time(0, 0), tzinfo=self.timezone)
        else:
            end_local = datetime.combine(day, self.closes, tzinfo=self.timezone)
        return start, end_local.astimezone(UTC)

    def windows_from(self, moment: datetime) -> Iterator[tuple[datetime, datetime]]:
        """Working windows that end after ``moment``, in order (at most ten years ahead)."""
        day = moment.astimezone(self.timezone).date() - timedelta(days=1)
        for _ in range(_MAX_DAYS):
            w = self.window(day)
            day += timedelta(days=1)
            if w is not None and w[1] > moment:
                yield w


def _aware(value: datetime, name: str) -> datetime:
    if value.tzinfo is None:
        raise ValueError(f"{name} must be timezone-aware")
    return value.astimezone(UTC)


def add_business_time(start: datetime, duration: timedelta, calendar: BusinessCalendar) -> datetime:
    """The moment when ``duration`` of working time has passed after ``start``."""
    start = _aware(start, "start")
    if duration < timedelta(0):
        raise ValueError("duration must not be negative")
    remaining = duration
    for opens, closes in calendar.windows_from(start):
        begin = max(start, opens)
        available = closes - begin
        if remaining <= available:
            # A zero duration at a closed moment lands on the next opening, like any other.
            return begin + remaining
        remaining -= available
    raise ValueError("the calendar has no working time in the next ten years")


def business_time_between(a: datetime, b: datetime, calendar: BusinessCalendar) -> timedelta:
    """Working time from ``a`` to ``b``; negative when ``b`` is before ``a``."""
    a, b = _aware(a, "a"), _aware(b, "b")
    if b < a:
        return -business_time_between(b, a, calendar)
    total = timedelta(0)
    for opens, closes in calendar.windows_from(a):
        if opens >= b:
            break
        total += min(closes, b) - max(opens, a)
    return total
