"""Business time (handoff_shared.business_time): where SLA clocks run, across weekends, clock
changes, holidays and timezones on both sides of UTC."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from handoff_shared.business_time import (
    BusinessCalendar,
    BusinessHours,
    add_business_time,
    is_known_holiday_calendar,
    is_within_hours,
    local_day,
)
from hypothesis import assume, given, settings
from hypothesis import strategies as st

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


# The cases of issue 17, with holidays and timezones on both sides of UTC.

TOKYO = ZoneInfo("Asia/Tokyo")
LOS_ANGELES = ZoneInfo("America/Los_Angeles")


def test_four_hours_from_friday_four_pm_is_monday_noon_in_new_york() -> None:
    friday = datetime(2026, 11, 20, 16, tzinfo=NEW_YORK)
    assert add_business_time(friday, timedelta(hours=4), WEEKDAYS, NEW_YORK) == datetime(
        2026, 11, 23, 12, tzinfo=NEW_YORK
    )


def test_an_assignment_at_night_counts_from_the_next_opening() -> None:
    night = datetime(2026, 11, 24, 23, 40, tzinfo=TOKYO)
    assert add_business_time(night, timedelta(hours=1), WEEKDAYS, TOKYO) == datetime(
        2026, 11, 25, 10, tzinfo=TOKYO
    )


def test_a_holiday_is_closed_all_day() -> None:
    wednesday = datetime(2026, 11, 25, 16, tzinfo=NEW_YORK)  # Thursday 26 is Thanksgiving
    due = add_business_time(wednesday, timedelta(hours=2), WEEKDAYS, NEW_YORK, holidays=("US",))
    assert due == datetime(2026, 11, 27, 10, tzinfo=NEW_YORK)
    assert add_business_time(wednesday, timedelta(hours=2), WEEKDAYS, NEW_YORK) == datetime(
        2026, 11, 26, 10, tzinfo=NEW_YORK
    )


def test_a_two_day_sla_over_a_holiday_weekend() -> None:
    # Christmas Day 2026 is a Friday (Saturday 26 is the second day); New Year's Day another Friday.
    thursday = datetime(2026, 12, 24, 12, tzinfo=BERLIN)
    due = add_business_time(thursday, timedelta(days=2), WEEKDAYS, BERLIN, holidays=("DE",))
    # 48 hours of business time: 5 on Thursday 24th, 8 each on 28th-31st (37), 8 on Monday 4th (45),
    # the last 3 on Tuesday 5th.
    assert due == datetime(2027, 1, 5, 12, tzinfo=BERLIN)
    without = add_business_time(thursday, timedelta(days=2), WEEKDAYS, BERLIN)
    assert without == datetime(2027, 1, 1, 12, tzinfo=BERLIN)


def test_holidays_of_several_countries_all_close_the_day() -> None:
    monday = datetime(2026, 10, 2, 16, tzinfo=BERLIN)  # Friday 2 Oct; Saturday 3 is German Unity Day
    hours_7 = BusinessHours(time(9), time(17), frozenset(range(7)))
    due = add_business_time(monday, timedelta(hours=2), hours_7, BERLIN, holidays=("US", "DE"))
    assert due == datetime(2026, 10, 4, 10, tzinfo=BERLIN)


def test_a_subdivision_calendar_adds_its_own_holidays() -> None:
    epiphany = datetime(2026, 1, 6, 10, tzinfo=BERLIN)  # a holiday in Bavaria, not in all Germany
    assert is_within_hours(epiphany, WEEKDAYS, BERLIN, holidays=("DE",))
    assert not is_within_hours(epiphany, WEEKDAYS, BERLIN, holidays=("DE-BY",))


def test_holiday_calendars_are_known_by_country_and_subdivision() -> None:
    assert is_known_holiday_calendar("US")
    assert is_known_holiday_calendar("DE-BY")
    assert not is_known_holiday_calendar("XX")
    assert not is_known_holiday_calendar("DE-XX")


def test_the_night_the_clocks_go_back_in_europe_holds_an_hour_more() -> None:
    night_hours = BusinessHours(time(0, 30), time(9), frozenset(range(7)))  # 8.5h on the wall
    start = datetime(2026, 10, 25, 0, 30, tzinfo=BERLIN)  # Europe falls back at 03:00 this day
    due = add_business_time(start, timedelta(hours=9), night_hours, BERLIN)
    assert due - start == timedelta(hours=9)
    assert due == datetime(2026, 10, 25, 8, 30, tzinfo=BERLIN)  # same day: it holds 9.5 real hours


def test_a_rep_west_of_utc_and_one_east_get_their_own_mornings() -> None:
    now = datetime(2026, 11, 24, 20, tzinfo=UTC)  # 12:00 in Los Angeles, 05:00 next day in Tokyo
    assert add_business_time(now, timedelta(hours=1), WEEKDAYS, LOS_ANGELES) == now + timedelta(hours=1)
    assert add_business_time(now, timedelta(hours=1), WEEKDAYS, TOKYO) == datetime(
        2026, 11, 25, 10, tzinfo=TOKYO
    )


def test_a_calendar_bundles_hours_zone_and_holidays() -> None:
    calendar = BusinessCalendar(NEW_YORK, WEEKDAYS, ("US",))
    assert calendar.add(datetime(2026, 11, 25, 16, tzinfo=NEW_YORK), timedelta(hours=2)) == datetime(
        2026, 11, 27, 10, tzinfo=NEW_YORK
    )


# Properties.

ZONES = st.sampled_from([UTC, BERLIN, NEW_YORK, TOKYO, LOS_ANGELES, ZoneInfo("Australia/Lord_Howe")])
MOMENTS = st.datetimes(  # hypothesis takes naive bounds and attaches the timezone itself
    min_value=datetime(2025, 1, 1),  # noqa: DTZ001
    max_value=datetime(2028, 12, 31),  # noqa: DTZ001
    timezones=st.just(UTC),
)
DURATIONS = st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=20))


@st.composite
def hours_strategy(draw: st.DrawFn) -> BusinessHours:
    start = draw(st.integers(0, 22))
    end = draw(st.integers(start + 1, 23))
    days = draw(st.frozensets(st.integers(0, 6), min_size=1))
    return BusinessHours(time(start), time(end, 59 if end == 23 else 0), days)


HOLIDAYS = st.sampled_from([(), ("US",), ("DE",), ("US", "DE")])


@given(MOMENTS, DURATIONS, hours_strategy(), ZONES, HOLIDAYS)
@settings(max_examples=300, deadline=None)
def test_a_due_time_never_falls_inside_closed_hours(
    start: datetime, duration: timedelta, hours: BusinessHours, tz: ZoneInfo, holidays: tuple[str, ...]
) -> None:
    assume(duration > timedelta(0))
    due = add_business_time(start, duration, hours, tz, holidays)
    # Open, or the very end of an open stretch (the last moment of working time).
    just_before = due - timedelta(microseconds=1)
    assert is_within_hours(due, hours, tz, holidays) or is_within_hours(just_before, hours, tz, holidays)


@given(MOMENTS, DURATIONS, DURATIONS, hours_strategy(), ZONES, HOLIDAYS)
@settings(max_examples=300, deadline=None)
def test_adding_more_business_time_never_ends_earlier(
    start: datetime,
    first: timedelta,
    second: timedelta,
    hours: BusinessHours,
    tz: ZoneInfo,
    holidays: tuple[str, ...],
) -> None:
    shorter, longer = sorted((first, second))
    assert add_business_time(start, shorter, hours, tz, holidays) <= add_business_time(
        start, longer, hours, tz, holidays
    )


@given(MOMENTS, MOMENTS, DURATIONS, hours_strategy(), ZONES)
@settings(max_examples=200, deadline=None)
def test_starting_later_never_ends_earlier(
    one: datetime, other: datetime, duration: timedelta, hours: BusinessHours, tz: ZoneInfo
) -> None:
    earlier, later = sorted((one, other))
    assert add_business_time(earlier, duration, hours, tz) <= add_business_time(later, duration, hours, tz)


@given(MOMENTS, DURATIONS, hours_strategy(), ZONES)
@settings(max_examples=200, deadline=None)
def test_business_time_is_never_shorter_than_wall_time(
    start: datetime, duration: timedelta, hours: BusinessHours, tz: ZoneInfo
) -> None:
    assert add_business_time(start, duration, hours, tz) >= start + duration
