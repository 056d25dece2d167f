"""Business-hours arithmetic: nights, weekends, holidays, DST and time zones."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from tessera_service_desk.sla.calendar import BusinessCalendar, add_business_time, business_time_between

BERLIN = ZoneInfo("Europe/Berlin")
UTC_9_TO_5 = BusinessCalendar()  # Monday to Friday, 09:00-17:00 UTC


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def h(hours: float) -> timedelta:
    return timedelta(hours=hours)


class TestAddBusinessTime:
    def test_within_the_same_day(self) -> None:
        # Monday 2026-01-05 10:00 + 2h
        assert add_business_time(utc(2026, 1, 5, 10), h(2), UTC_9_TO_5) == utc(2026, 1, 5, 12)

    def test_carries_over_the_night(self) -> None:
        # Monday 16:00 + 2h = 1h on Monday, 1h from Tuesday 09:00
        assert add_business_time(utc(2026, 1, 5, 16), h(2), UTC_9_TO_5) == utc(2026, 1, 6, 10)

    def test_start_at_night_begins_next_morning(self) -> None:
        assert add_business_time(utc(2026, 1, 5, 22), h(1), UTC_9_TO_5) == utc(2026, 1, 6, 10)

    def test_skips_the_weekend(self) -> None:
        # Friday 2026-01-09 16:00 + 3h -> Monday 11:00
        assert add_business_time(utc(2026, 1, 9, 16), h(3), UTC_9_TO_5) == utc(2026, 1, 12, 11)

    def test_skips_holidays(self) -> None:
        cal = BusinessCalendar(holidays=frozenset({date(2026, 1, 6)}))
        assert add_business_time(utc(2026, 1, 5, 16), h(2), cal) == utc(2026, 1, 7, 10)

    def test_zero_at_a_closed_moment_lands_on_next_opening(self) -> None:
        assert add_business_time(utc(2026, 1, 10, 12), h(0), UTC_9_TO_5) == utc(2026, 1, 12, 9)

    def test_exactly_a_full_day_ends_at_closing(self) -> None:
        assert add_business_time(utc(2026, 1, 5, 9), h(8), UTC_9_TO_5) == utc(2026, 1, 5, 17)

    def test_local_hours_in_another_time_zone(self) -> None:
        cal = BusinessCalendar(timezone=BERLIN)  # 09:00-17:00 Berlin = 08:00-16:00 UTC in winter
        assert add_business_time(utc(2026, 1, 5, 15), h(2), cal) == utc(2026, 1, 6, 9)

    def test_across_spring_forward(self) -> None:
        # 24x7 in Berlin: Saturday 2026-03-28 12:00 local + 24 real hours crosses the lost hour.
        cal = BusinessCalendar(timezone=BERLIN, working_days=frozenset(range(7)), opens=time(0), closes=None)
        start = datetime(2026, 3, 28, 12, tzinfo=BERLIN)
        end = add_business_time(start, h(24), cal)
        assert end == start.astimezone(UTC) + h(24)
        assert end.astimezone(BERLIN).hour == 13  # the wall clock moved 25 hours

    def test_working_hours_follow_the_wall_clock_after_dst(self) -> None:
        cal = BusinessCalendar(timezone=BERLIN)
        # Friday 2026-03-27 16:00 Berlin (15:00 UTC) + 2h -> Monday 2026-03-30 10:00 Berlin (08:00 UTC, summer)
        assert add_business_time(utc(2026, 3, 27, 15), h(2), cal) == utc(2026, 3, 30, 8)

    def test_negative_and_naive_are_refused(self) -> None:
        with pytest.raises(ValueError):
            add_business_time(utc(2026, 1, 5, 9), h(-1), UTC_9_TO_5)
        with pytest.raises(ValueError):
            add_business_time(datetime(2026, 1, 5, 9), h(1), UTC_9_TO_5)

    def test_calendar_without_working_days_is_an_error(self) -> None:
        with pytest.raises(ValueError):
            add_business_time(utc(2026, 1, 5, 9), h(1), BusinessCalendar(working_days=frozenset()))


class TestBusinessTimeBetween:
    def test_counts_only_working_hours(self) -> None:
        # Friday 15:00 -> Monday 11:00 = 2h + 2h
        assert business_time_between(utc(2026, 1, 9, 15), utc(2026, 1, 12, 11), UTC_9_TO_5) == h(4)

    def test_night_only_is_zero(self) -> None:
        assert business_time_between(utc(2026, 1, 5, 18), utc(2026, 1, 6, 8), UTC_9_TO_5) == h(0)

    def test_reversed_is_negative(self) -> None:
        assert business_time_between(utc(2026, 1, 5, 12), utc(2026, 1, 5, 10), UTC_9_TO_5) == h(-2)

    def test_holiday_week(self) -> None:
        cal = BusinessCalendar(holidays=frozenset({date(2026, 1, 6), date(2026, 1, 7)}))
        assert business_time_between(utc(2026, 1, 5, 0), utc(2026, 1, 10, 0), cal) == h(24)

    def test_fall_back_day_counts_the_extra_hour(self) -> None:
        cal = BusinessCalendar(timezone=BERLIN, working_days=frozenset(range(7)), opens=time(0), closes=None)
        day = date(2026, 10, 25)  # Berlin leaves summer time: the day has 25 hours
        start = datetime(2026, 10, 25, tzinfo=BERLIN)
        assert cal.window(day) == (start.astimezone(UTC), datetime(2026, 10, 26, tzinfo=BERLIN).astimezone(UTC))
        assert business_time_between(start, datetime(2026, 10, 26, tzinfo=BERLIN), cal) == h(25)

    @pytest.mark.parametrize("minutes", [1, 59, 480, 481, 2400, 10_000])
    def test_inverse_of_add(self, minutes: int) -> None:
        start = utc(2026, 1, 7, 13, 17)
        end = add_business_time(start, timedelta(minutes=minutes), UTC_9_TO_5)
        assert business_time_between(start, end, UTC_9_TO_5) == timedelta(minutes=minutes)
