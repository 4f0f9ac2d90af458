"""Business time: when a rep works, and how an SLA's clock runs inside those hours.

The one implementation both the router (``sla_due_at``) and the sla-monitor (the ladder's
fire times) use, so the two can never disagree. Pure: no I/O, no clock; every moment is
given. Holiday calendars come from the ``holidays`` package, which computes them from
rules in memory.

Hours are wall-clock times in the rep's timezone; elapsed time is real time, so a working
day on which the clocks change counts the hours it really has (09:00-17:00 on a day the
clocks go back holds nine hours). A wall-clock time the clocks skip is read with the
offset from before the change (02:30 on a spring-forward night is 03:30), one that
repeats as its first occurrence. Every datetime given must be timezone-aware: a naive one
would depend on the timezone of the machine.

Holidays close whole local days of business hours: a day that is a public holiday in any
of the listed calendars (``US``, ``DE``, or a subdivision such as ``DE-BY``) has no
working time. Without business hours the clock is wall time and runs through holidays.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cache, lru_cache
from zoneinfo import ZoneInfo

import holidays as holiday_calendars

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class BusinessHours:
    """Working hours ``start``-``end`` (local wall clock, end excluded) on ``days`` (0 = Monday)."""

    start: time
    end: time
    days: frozenset[int]


@dataclass(frozen=True)
class BusinessCalendar:
    """Where an SLA clock runs: business hours (None: always) in ``timezone``, less holidays."""

    timezone: ZoneInfo
    hours: BusinessHours | None = None
    holidays: tuple[str, ...] = ()

    def add(self, start: datetime, duration: timedelta) -> datetime:
        """``add_business_time`` on this calendar."""
        return add_business_time(start, duration, self.hours, self.timezone, self.holidays)


def local_day(now: datetime, tz: ZoneInfo) -> date:
    """The calendar day it is at ``now`` where the rep lives."""
    return _aware(now).astimezone(tz).date()


def is_within_hours(
    now: datetime, hours: BusinessHours, tz: ZoneInfo, holidays: Collection[str] = ()
) -> bool:
    """True when ``now`` falls inside working hours in ``tz`` (start included, end excluded)."""
    local = _aware(now).astimezone(tz)
    return (
        local.weekday() in hours.days
        and hours.start <= local.time() < hours.end
        and not is_holiday(local.date(), holidays)
    )


def is_holiday(day: date, calendars: Collection[str]) -> bool:
    """True when ``day`` is a public holiday in any of ``calendars`` (``US``, ``DE-BY``...)."""
    return any(day in _holidays_of(code, day.year) for code in calendars)


def is_known_holiday_calendar(code: str) -> bool:
    """True for a country (``US``) or country-subdivision (``DE-BY``) the holidays package knows."""
    country, _, subdivision = code.partition("-")
    known = _supported().get(country)
    return known is not None and (not subdivision or subdivision in known)


def add_business_time(
    start: datetime,
    duration: timedelta,
    hours: BusinessHours | None,
    tz: ZoneInfo,
    holidays: Collection[str] = (),
) -> datetime:
    """The moment ``duration`` of working time has passed after ``start``.

    Without business hours this is plain addition. Time outside working hours does not
    count: a 4h SLA starting Friday 16:00 with 09:00-17:00 hours is due Monday 12:00; a
    start at night counts from the next opening. The answer is in UTC when business hours
    apply.
    """
    _aware(start)
    if hours is None or duration <= timedelta(0):
        return start + duration
    if not hours.days or hours.start >= hours.end:
        raise ValueError("business hours that never open: no days, or start not before end")
    remaining = duration
    day = start.astimezone(tz).date()
    moment = start.astimezone(UTC)  # arithmetic in UTC is real time; in a zone it is wall-clock time
    for _ in range(_days_to_search(duration, hours)):
        if day.weekday() in hours.days and not is_holiday(day, holidays):
            opens, closes = _at(day, hours.start, tz), _at(day, hours.end, tz)
            moment = max(moment, opens)
            if moment < closes:
                if remaining <= closes - moment:
                    return moment + remaining
                remaining -= closes - moment
        day += timedelta(days=1)
    raise ValueError("no working time found in twice the weeks needed: are the holidays every day?")


def _days_to_search(duration: timedelta, hours: BusinessHours) -> int:
    """Twice the days the duration needs at the hours' weekly rate (clock changes and
    holidays take less than that), plus a year: a bound that only never-open days reach."""
    span = datetime.combine(date.min, hours.end) - datetime.combine(date.min, hours.start)
    weeks = duration / (span * len(hours.days))
    return int(2 * 7 * (weeks + 1)) + 366


def _at(day: date, wall: time, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, wall, tzinfo=tz).astimezone(UTC)


def _aware(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{moment.isoformat()} has no timezone: pass an aware datetime")
    return moment


@lru_cache(maxsize=512)
def _holidays_of(code: str, year: int) -> frozenset[date]:
    country, _, subdivision = code.partition("-")
    calendar = holiday_calendars.country_holidays(country, subdiv=subdivision or None, years=year)
    return frozenset(calendar)


@cache
def _supported() -> dict[str, frozenset[str]]:
    return {
        country: frozenset(subdivisions)
        for country, subdivisions in holiday_calendars.list_supported_countries().items()
    }
