"""Business hours: when a rep works, and how an SLA's clock runs inside those hours.

Hours are wall-clock times in the rep's timezone; elapsed time is real time, so a working
day on which the clocks change counts the hours it really has (09:00-17:00 on a day the
clocks go back holds nine hours). A wall-clock time the clocks skip is read with the
offset from before the change (02:30 on a spring-forward night is 03:30), one that
repeats as its first occurrence. Every datetime given must be timezone-aware: a naive one
would depend on the timezone of the machine.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class BusinessHours:
    """Working hours ``start``-``end`` (local wall clock, end excluded) on ``days`` (0 = Monday)."""

    start: time
    end: time
    days: frozenset[int]


def local_day(now: datetime, tz: ZoneInfo) -> date:
    """The calendar day it is at ``now`` where the rep lives."""
    return _aware(now).astimezone(tz).date()


def is_within_hours(now: datetime, hours: BusinessHours, tz: ZoneInfo) -> bool:
    """True when ``now`` falls inside working hours in ``tz`` (start included, end excluded)."""
    local = _aware(now).astimezone(tz)
    return local.weekday() in hours.days and hours.start <= local.time() < hours.end


def add_business_time(
    start: datetime, duration: timedelta, hours: BusinessHours | None, tz: ZoneInfo
) -> datetime:
    """The moment ``duration`` of working time has passed after ``start``.

    Without business hours this is plain addition. Time outside working hours does not
    count: a 4h SLA starting Friday 16:00 with 09:00-17:00 hours is due Monday 12:00.
    The answer is in UTC when business hours apply.
    """
    _aware(start)
    if hours is None or duration <= timedelta(0):
        return start + duration
    if not hours.days or hours.start >= hours.end:
        raise ValueError("business hours that never open: no days, or start not before end")
    remaining = duration
    day = start.astimezone(tz).date()
    moment = start.astimezone(UTC)  # arithmetic in UTC is real time; in a zone it is wall-clock time
    while True:  # ends: some weekday opens, and every open day has working time left
        if day.weekday() in hours.days:
            opens, closes = _at(day, hours.start, tz), _at(day, hours.end, tz)
            moment = max(moment, opens)
            if moment < closes:
                if remaining <= closes - moment:
                    return moment + remaining
                remaining -= closes - moment
        day += timedelta(days=1)


def _at(day: date, wall: time, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, wall, tzinfo=tz).astimezone(UTC)


def _aware(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{moment.isoformat()} has no timezone: pass an aware datetime")
    return moment
