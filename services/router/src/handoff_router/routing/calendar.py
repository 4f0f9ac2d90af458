"""Business hours: when a rep works, and how an SLA's clock runs inside those hours.

Hours are wall-clock times in the rep's timezone; elapsed time is real time, so a day on
which clocks change is counted as the hours it really has.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class BusinessHours:
    """Working hours ``start``-``end`` (local wall clock) on ``days`` (0 = Monday)."""

    start: time
    end: time
    days: frozenset[int]


def local_day(now: datetime, tz: ZoneInfo) -> date:
    """The calendar day it is at ``now`` where the rep lives."""
    return now.astimezone(tz).date()


def is_within_hours(now: datetime, hours: BusinessHours, tz: ZoneInfo) -> bool:
    """True when ``now`` falls inside working hours in ``tz``."""
    local = now.astimezone(tz)
    return local.weekday() in hours.days and hours.start <= local.time() < hours.end


def add_business_time(
    start: datetime, duration: timedelta, hours: BusinessHours | None, tz: ZoneInfo
) -> datetime:
    """The moment ``duration`` of working time has passed after ``start``.

    Without business hours this is plain addition. Time outside working hours does not
    count: a 4h SLA starting Friday 16:00 with 09:00-17:00 hours is due Monday 12:00.
    """
    if hours is None or duration <= timedelta(0):
        return start + duration
    remaining = duration
    day = start.astimezone(tz).date()
    moment = start.astimezone(UTC)  # arithmetic in UTC is real time; in a zone it is wall-clock time
    for _ in range(3700):  # ten years of days: the loop always ends long before
        if day.weekday() in hours.days:
            opens = _at(day, hours.start, tz)
            closes = _at(day, hours.end, tz)
            moment = max(moment, opens)
            if moment < closes:
                available = closes - moment
                if remaining <= available:
                    return moment + remaining
                remaining -= available
        day += timedelta(days=1)
    raise ValueError("business hours never open")


def _at(day: date, wall: time, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, wall, tzinfo=tz).astimezone(UTC)
