"""When a rep is away by their calendar: the busy spans of an ICS feed. Pure (bytes in, spans out).

A span is made by an event (recurring series expanded, each in its own time zone) that is
not cancelled and either
- marked out of office: Microsoft's ``X-MICROSOFT-CDO-BUSYSTATUS:OOF`` (or the intended
  status), Google's out-of-office event type (``X-GOOGLE-EVENT-TYPE`` / ``X-EVENT-TYPE``
  ``outOfOffice``), or a category "Out of office"; or
- all-day and busy: a date (not a time) start, not ``TRANSP:TRANSPARENT`` and not marked
  free (``X-MICROSOFT-CDO-BUSYSTATUS:FREE``): OPAQUE is the default, as RFC 5545 says.
An all-day event spans its dates from midnight to midnight on the rep's clock. Timed busy
meetings do not make a rep unavailable: only absences do.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import recurring_ical_events
from icalendar import Calendar, Component

Span = tuple[datetime, datetime]
OUT_OF_OFFICE = frozenset({"oof", "outofoffice", "out_of_office", "out of office"})
MAX_OCCURRENCES = 20_000  # per feed, over the window: a feed past it is refused


class FeedRefused(ValueError):
    """The feed cannot be used (malformed, too many occurrences): the reason is the message."""


@dataclass(frozen=True)
class BusyReading:
    """What a feed says over the window: the merged busy spans (UTC) and how many events it read."""

    spans: tuple[Span, ...]
    events: int


def _text(component: Component, name: str) -> str:
    value = component.get(name)
    return str(value).strip().lower() if value is not None else ""


def is_out_of_office(event: Component) -> bool:
    """Marked out of office by Outlook's, Google's or a category's convention."""
    for name in (
        "X-MICROSOFT-CDO-BUSYSTATUS",
        "X-MICROSOFT-CDO-INTENDEDSTATUS",
        "X-GOOGLE-EVENT-TYPE",
        "X-EVENT-TYPE",
    ):
        if _text(event, name).replace("-", "").replace(" ", "") in {"oof", "outofoffice"}:
            return True
    categories = event.get("CATEGORIES")
    listed = categories if isinstance(categories, list) else [categories] if categories is not None else []
    for entry in listed:
        names = getattr(entry, "cats", None) or [entry]
        if any(str(name).strip().lower() in OUT_OF_OFFICE for name in names):
            return True
    return False


def is_all_day(event: Component) -> bool:
    start = event.get("DTSTART")
    return start is not None and isinstance(start.dt, date) and not isinstance(start.dt, datetime)


def makes_away(event: Component) -> bool:
    """True for an out-of-office event, or an all-day one that shows the rep busy."""
    if _text(event, "STATUS") == "cancelled":
        return False
    if is_out_of_office(event):
        return True
    if not is_all_day(event):
        return False
    return _text(event, "TRANSP") != "transparent" and _text(event, "X-MICROSOFT-CDO-BUSYSTATUS") != "free"


def _moment(value: date | datetime, tz: ZoneInfo) -> datetime:
    if isinstance(value, datetime):
        return value.replace(tzinfo=tz) if value.tzinfo is None else value  # floating: the rep's clock
    return datetime.combine(value, time(), tzinfo=tz)


def _span(event: Component, tz: ZoneInfo) -> Span | None:
    start = event.get("DTSTART")
    if start is None:
        return None
    begins = _moment(start.dt, tz)
    end = event.get("DTEND")
    if end is not None:
        ends = _moment(end.dt, tz)
    elif event.get("DURATION") is not None:
        ends = begins + event.get("DURATION").dt
    else:
        ends = begins + (timedelta(days=1) if is_all_day(event) else timedelta())
    if ends <= begins:
        return None
    return begins.astimezone(UTC), ends.astimezone(UTC)


def merge(spans: Iterable[Span]) -> tuple[Span, ...]:
    """Overlapping or touching spans as one, in order."""
    merged: list[Span] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return tuple(merged)


def read_busy(feed: bytes, timezone: str, start: datetime, end: datetime) -> BusyReading:
    """The spans in [start, end) during which the feed says the rep is away (FeedRefused: why not)."""
    tz = ZoneInfo(timezone)
    try:
        calendar = Calendar.from_ical(feed)
    except (ValueError, IndexError, KeyError, TypeError) as error:
        raise FeedRefused(f"not an iCalendar feed: {str(error)[:200]}") from None
    if not isinstance(calendar, Calendar) or calendar.name != "VCALENDAR":
        raise FeedRefused("not an iCalendar feed: no VCALENDAR")
    spans: list[Span] = []
    count = 0
    try:
        for event in recurring_ical_events.of(calendar, skip_bad_series=True).between(start, end):
            count += 1
            if count > MAX_OCCURRENCES:
                raise FeedRefused(f"more than {MAX_OCCURRENCES} events in the window")
            if makes_away(event):
                span = _span(event, tz)
                if span is not None and span[1] > start:
                    spans.append(span)
    except FeedRefused:
        raise
    except (ValueError, TypeError, KeyError, AttributeError, OverflowError) as error:
        raise FeedRefused(f"unreadable events: {type(error).__name__}: {str(error)[:200]}") from None
    return BusyReading(merge(spans), count)
