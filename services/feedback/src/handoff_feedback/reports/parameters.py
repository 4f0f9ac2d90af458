"""Reading the reports' query parameters; a bad one is a 422 that names it."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from handoff_shared.events import InvalidTime, parse_rfc3339

from handoff_feedback.outcomes.segments import DIMENSIONS, Dimension, dimension_of, segment_key, segment_of
from handoff_feedback.outcomes.windows import window_of
from handoff_feedback.reports.errors import InvalidParameter

DEFAULT_DAYS = 7


def moment(parameter: str, text: str, zone: ZoneInfo) -> datetime:
    """An RFC 3339 date-time, or a date (that day's local midnight in the report timezone)."""
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            return datetime(day.year, day.month, day.day, tzinfo=zone)
        return parse_rfc3339(text)
    except (InvalidTime, ValueError):
        raise InvalidParameter(
            parameter, f"{text[:40]!r} is not a date (2026-03-01) or an RFC 3339 date-time"
        ) from None


def day_range(start: str | None, end: str | None, now: datetime, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """``[from, to)`` widened to whole days in ``zone``; by default the last 7 days, today included."""
    upper = moment("to", end, zone) if end else window_of(now, "day", zone)[1]
    lower = moment("from", start, zone) if start else upper - timedelta(days=DEFAULT_DAYS)
    if lower >= upper:
        raise InvalidParameter("from", "must be before to")
    if upper - lower > timedelta(days=400):
        raise InvalidParameter("from", "a report spans at most 400 days")
    return window_of(lower, "day", zone)[0], window_of(upper - timedelta(microseconds=1), "day", zone)[1]


def segment(text: str) -> tuple[Dimension, str]:
    """``all``, ``source=webinar``, ``source=webinar,campaign=q3``, ``team=na,rep=rep-ana`` ..."""
    if text == "all":
        return "all", "all"
    try:
        values = segment_of(text)
    except ValueError:
        raise InvalidParameter("segment", f"{text[:80]!r} is not name=value[,name=value]") from None
    dimension = dimension_of(values)
    if dimension is None:
        known = ", ".join(",".join(names) for names in DIMENSIONS.values() if names)
        raise InvalidParameter(
            "segment", f"no segment is counted by {', '.join(sorted(values))}; known: {known}"
        )
    return dimension, segment_key(dimension, values)


def filters(source: str | None, campaign: str | None, team: str | None, rep: str | None) -> str:
    """The dashboard's filters as one segment (source with campaign, or team with rep, combine)."""
    given = {k: v for k, v in {"source": source, "campaign": campaign, "team": team, "rep": rep}.items() if v}
    if not given:
        return "all"
    if dimension_of(given) is None:
        raise InvalidParameter(
            next(iter(given)), "filters combine only source with campaign, or team with rep"
        )
    return ",".join(f"{k}={v}" for k, v in given.items())
