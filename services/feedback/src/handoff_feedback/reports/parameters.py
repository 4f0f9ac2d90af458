"""Reading the reports' query parameters; a bad one is a 422 that names it."""

from __future__ import annotations

from collections.abc import Iterable
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
    """``all``, ``source=webinar``, ``source=webinar,campaign=q3``, ``team=na,rep=rep-ana`` ...
    (values escaped as segment keys write them: ``source=a%2Cb`` is the source ``a,b``)."""
    if text == "all":
        return "all", "all"
    try:
        values = segment_of(text)
    except ValueError:
        raise InvalidParameter("segment", f"{text[:80]!r} is not name=value[,name=value]") from None
    dimension = dimension_of(values)
    if dimension is None:
        raise _uncounted(values)
    return dimension, segment_key(dimension, values)


def filters(values: dict[str, str | None], text: str) -> tuple[Dimension, str]:
    """The segment named by its values as separate parameters (``source=a,b`` is one source),
    or else by its key ``text``: never both."""
    given = {name: value for name, value in values.items() if value is not None}
    if not given:
        return segment(text)
    if text != "all":
        raise InvalidParameter("segment", f"give the segment or {', '.join(sorted(given))}, not both")
    dimension = dimension_of(given)
    if dimension is None:
        raise _uncounted(given)
    return dimension, segment_key(dimension, given)


def _uncounted(names: Iterable[str]) -> InvalidParameter:
    known = ", ".join(",".join(attributes) for attributes in DIMENSIONS.values() if attributes)
    return InvalidParameter("segment", f"no segment is counted by {', '.join(sorted(names))}; known: {known}")
