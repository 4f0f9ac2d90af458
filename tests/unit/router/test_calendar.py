"""Business hours: where SLA clocks run, across weekends and clock changes."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
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


def test_clocks_going_back_during_working_hours_give_a_longer_day() -> None:
    hours = BusinessHours(time(0, 30), time(5), frozenset(range(7)))
    start = datetime(2026, 11, 1, 0, 30, tzinfo=NEW_YORK)  # clocks go back 02:00 -> 01:00
    due = add_business_time(start, timedelta(hours=5), hours, NEW_YORK)
    assert due - start == timedelta(hours=5)
    local = due.astimezone(NEW_YORK)
    assert (local.hour, local.minute) == (4, 30)  # five real hours, four on the wall clock


def test_sla_over_a_weekend_with_a_clock_change_ends_at_the_same_wall_time() -> None:
    friday = datetime(2026, 3, 27, 15, tzinfo=BERLIN)  # Europe springs forward on Sunday 29 March
    due = add_business_time(friday, timedelta(hours=3), WEEKDAYS, BERLIN)
    assert due.astimezone(BERLIN) == datetime(2026, 3, 30, 10, tzinfo=BERLIN)
    assert due - friday == timedelta(days=2, hours=18)  # 66 real hours; the wall clock shows 67


def test_start_on_a_weekend_waits_for_monday() -> None:
    sunday = datetime(2026, 11, 22, 20, tzinfo=BERLIN)
    due = add_business_time(sunday, timedelta(minutes=30), WEEKDAYS, BERLIN)
    assert due == datetime(2026, 11, 23, 9, 30, tzinfo=BERLIN)


def test_start_at_closing_time_runs_from_the_next_opening() -> None:
    closing = datetime(2026, 11, 24, 17, tzinfo=BERLIN)
    assert add_business_time(closing, timedelta(hours=1), WEEKDAYS, BERLIN) == datetime(
        2026, 11, 25, 10, tzinfo=BERLIN
    )


def test_a_duration_filling_the_day_ends_at_closing_time() -> None:
    opening = datetime(2026, 11, 24, 9, tzinfo=BERLIN)
    assert add_business_time(opening, timedelta(hours=8), WEEKDAYS, BERLIN) == datetime(
        2026, 11, 24, 17, tzinfo=BERLIN
    )


def test_weekend_only_hours_skip_the_week() -> None:
    weekend = BusinessHours(time(10), time(14), frozenset({5, 6}))
    monday = datetime(2026, 11, 23, 12, tzinfo=UTC)
    due = add_business_time(monday, timedelta(hours=6), weekend, ZoneInfo("UTC"))
    assert due == datetime(2026, 11, 29, 12, tzinfo=UTC)


def test_business_time_is_answered_in_utc() -> None:
    start = datetime(2026, 11, 24, 10, tzinfo=BERLIN)
    assert add_business_time(start, timedelta(hours=1), WEEKDAYS, BERLIN).tzinfo == UTC


def test_long_slas_count_weeks_of_working_hours() -> None:
    monday = datetime(2026, 11, 23, 9, tzinfo=BERLIN)
    due = add_business_time(monday, timedelta(hours=40 * 52), WEEKDAYS, BERLIN)
    assert due.astimezone(BERLIN).date().isoformat() == "2027-11-19"  # 52 weeks later, a Friday
    assert due.astimezone(BERLIN).hour == 17


def test_hours_are_start_inclusive_and_end_exclusive() -> None:
    assert is_within_hours(datetime(2026, 11, 23, 9, tzinfo=BERLIN), WEEKDAYS, BERLIN)
    assert not is_within_hours(datetime(2026, 11, 23, 17, tzinfo=BERLIN), WEEKDAYS, BERLIN)
    assert not is_within_hours(datetime(2026, 11, 22, 12, tzinfo=BERLIN), WEEKDAYS, BERLIN)  # Sunday


def test_naive_datetimes_are_refused() -> None:
    naive = datetime(2026, 11, 23, 9)  # noqa: DTZ001 - the point of the test
    with pytest.raises(ValueError, match="no timezone"):
        add_business_time(naive, timedelta(hours=1), WEEKDAYS, BERLIN)
    with pytest.raises(ValueError, match="no timezone"):
        is_within_hours(naive, WEEKDAYS, BERLIN)
    with pytest.raises(ValueError, match="no timezone"):
        local_day(naive, BERLIN)


def test_hours_that_never_open_are_refused() -> None:
    start = datetime(2026, 11, 23, 9, tzinfo=UTC)
    with pytest.raises(ValueError, match="never open"):
        add_business_time(start, timedelta(hours=1), BusinessHours(time(9), time(17), frozenset()), BERLIN)
    with pytest.raises(ValueError, match="never open"):
        add_business_time(start, timedelta(hours=1), BusinessHours(time(17), time(9), frozenset({0})), BERLIN)
