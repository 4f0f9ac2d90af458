"""Business hours: where SLA clocks run, across weekends and clock changes."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from handoff_router.routing.calendar import BusinessHours, add_business_time, is_within_hours, local_day

WEEKDAYS = BusinessHours(time(9), time(17), frozenset(range(5)))
BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")


def test_without_hours_time_simply_adds() -> None:
    start = datetime(2026, 11, 20, 16, tzinfo=UTC)
    assert add_business_time(start, timedelta(hours=4), None, BERLIN) == start + timedelta(hours=4)


def test_friday_afternoon_sla_runs_on_monday() -> None:
    start = datetime(2026, 11, 20, 16, tzinfo=BERLIN)  # Friday 16:00
    assert add_business_time(start, timedelta(hours=4), WEEKDAYS, BERLIN) == datetime(
        2026, 11, 23, 12, tzinfo=BERLIN
    )


def test_before_opening_starts_at_opening() -> None:
    start = datetime(2026, 11, 23, 6, tzinfo=BERLIN)  # Monday 06:00
    assert add_business_time(start, timedelta(hours=2), WEEKDAYS, BERLIN) == datetime(
        2026, 11, 23, 11, tzinfo=BERLIN
    )


def test_within_the_day() -> None:
    start = datetime(2026, 11, 24, 10, 30, tzinfo=BERLIN)
    due = add_business_time(start, timedelta(minutes=90), WEEKDAYS, BERLIN)
    assert due == datetime(2026, 11, 24, 12, tzinfo=BERLIN)


def test_multi_day_sla_counts_only_working_hours() -> None:
    start = datetime(2026, 11, 23, 9, tzinfo=BERLIN)  # Monday 09:00
    due = add_business_time(start, timedelta(hours=24), WEEKDAYS, BERLIN)  # three 8h days
    assert due == datetime(2026, 11, 25, 17, tzinfo=BERLIN)


def test_clock_change_day_counts_real_hours() -> None:
    hours = BusinessHours(time(0), time(23, 59), frozenset(range(7)))
    start = datetime(2026, 3, 8, 0, 30, tzinfo=NEW_YORK)  # the US springs forward at 02:00 this day
    due = add_business_time(start, timedelta(hours=3), hours, NEW_YORK)
    assert due - start == timedelta(hours=3)
    assert due.astimezone(NEW_YORK).hour == 4


def test_within_hours_is_local_to_the_rep() -> None:
    now = datetime(2026, 11, 23, 15, tzinfo=UTC)  # Monday: 16:00 in Berlin, 10:00 in New York
    assert is_within_hours(now, WEEKDAYS, BERLIN)
    assert is_within_hours(now, WEEKDAYS, NEW_YORK)
    later = now + timedelta(hours=2)  # 18:00 in Berlin
    assert not is_within_hours(later, WEEKDAYS, BERLIN)
    assert is_within_hours(later, WEEKDAYS, NEW_YORK)


def test_local_day_differs_across_timezones() -> None:
    now = datetime(2026, 11, 24, 2, tzinfo=UTC)
    assert local_day(now, BERLIN).day == 24
    assert local_day(now, NEW_YORK).day == 23
