"""Report windows: a local day or a local (ISO, Monday-first) week in a configured timezone.

A window runs from local midnight to the next one, so a day on which the clocks change
lasts 23 or 25 hours. Bounds are answered in UTC.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Literal
from zoneinfo import ZoneInfo

WindowKind = Literal["day", "week"]
WINDOW_KINDS: tuple[WindowKind, ...] = ("day", "week")


def _first_day(moment: datetime, kind: WindowKind, tz: ZoneInfo) -> date:
    if moment.tzinfo is None:
        raise ValueError("naive datetime: a time needs a UTC offset")
    day = moment.astimezone(tz).date()
    return day - timedelta(days=day.weekday()) if kind == "week" else day


def _midnight(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)


@lru_cache(maxsize=8192)
def _starts_of_day(day: date, tz: ZoneInfo) -> tuple[tuple[WindowKind, datetime], ...]:
    week = day - timedelta(days=day.weekday())
    return (("day", _midnight(day, tz)), ("week", _midnight(week, tz)))


def window_starts(moment: datetime, tz: ZoneInfo) -> tuple[tuple[WindowKind, datetime], ...]:
    """The start (UTC) of the day and of the week holding ``moment``: ``window_of`` for every
    kind at once, with one timezone conversion (the hot path of counting)."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime: a time needs a UTC offset")
    return _starts_of_day(moment.astimezone(tz).date(), tz)


def window_of(moment: datetime, kind: WindowKind, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The ``[start, end)`` of the window holding ``moment``, in UTC."""
    first = _first_day(moment, kind, tz)
    length = timedelta(days=7 if kind == "week" else 1)
    return _midnight(first, tz), _midnight(first + length, tz)
