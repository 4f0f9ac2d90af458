"""Which calendar events make a rep away (calendars/busy.py): out of office by Outlook's and
Google's conventions, all-day busy events, recurring series expanded, time zones honoured."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from handoff_router.calendars.busy import FeedRefused, merge, read_busy

START = datetime(2026, 1, 1, tzinfo=UTC)
END = datetime(2027, 1, 1, tzinfo=UTC)


def feed(*events: str, extra: str = "") -> bytes:
    body = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//t//t//EN", extra, *events, "END:VCALENDAR"]
    return "\r\n".join(line for line in body if line).encode()


def event(*lines: str, uid: str = "e1") -> str:
    return "\r\n".join(["BEGIN:VEVENT", f"UID:{uid}", "DTSTAMP:20260101T000000Z", *lines, "END:VEVENT"])


BERLIN = "\r\n".join(
    [
        "BEGIN:VTIMEZONE",
        "TZID:Europe/Berlin",
        "BEGIN:STANDARD",
        "DTSTART:19701025T030000",
        "RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU",
        "TZOFFSETFROM:+0200",
        "TZOFFSETTO:+0100",
        "END:STANDARD",
        "BEGIN:DAYLIGHT",
        "DTSTART:19700329T020000",
        "RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU",
        "TZOFFSETFROM:+0100",
        "TZOFFSETTO:+0200",
        "END:DAYLIGHT",
        "END:VTIMEZONE",
    ]
)


def test_an_outlook_out_of_office_event_is_a_span_in_its_own_time_zone() -> None:
    ics = feed(
        event(
            "DTSTART;TZID=Europe/Berlin:20260715T090000",
            "DTEND;TZID=Europe/Berlin:20260715T170000",
            "SUMMARY:Dentist",
            "X-MICROSOFT-CDO-BUSYSTATUS:OOF",
        ),
        extra=BERLIN,
    )
    reading = read_busy(ics, "America/New_York", START, END)
    assert reading.spans == ((datetime(2026, 7, 15, 7, tzinfo=UTC), datetime(2026, 7, 15, 15, tzinfo=UTC)),)


def test_a_google_out_of_office_event_counts_and_a_timed_meeting_does_not() -> None:
    ics = feed(
        event(
            "DTSTART:20260301T100000Z", "DTEND:20260301T120000Z", "X-GOOGLE-EVENT-TYPE:outOfOffice", uid="g"
        ),
        event("DTSTART:20260302T100000Z", "DTEND:20260302T120000Z", "SUMMARY:Pipeline review", uid="m"),
    )
    reading = read_busy(ics, "UTC", START, END)
    assert reading.spans == ((datetime(2026, 3, 1, 10, tzinfo=UTC), datetime(2026, 3, 1, 12, tzinfo=UTC)),)
    assert reading.events == 2


def test_an_all_day_busy_event_spans_the_reps_local_day_and_a_free_one_does_not() -> None:
    ics = feed(
        event("DTSTART;VALUE=DATE:20260504", "DTEND;VALUE=DATE:20260506", "SUMMARY:Vacation", uid="v"),
        event("DTSTART;VALUE=DATE:20260510", "DTEND;VALUE=DATE:20260511", "TRANSP:TRANSPARENT", uid="f"),
        event("DTSTART;VALUE=DATE:20260512", "SUMMARY:Birthday", "STATUS:CANCELLED", uid="c"),
    )
    reading = read_busy(ics, "America/New_York", START, END)
    # midnight to midnight in New York (UTC-4 in May), two days
    assert reading.spans == ((datetime(2026, 5, 4, 4, tzinfo=UTC), datetime(2026, 5, 6, 4, tzinfo=UTC)),)


def test_a_recurring_out_of_office_is_expanded_over_the_window() -> None:
    ics = feed(
        event(
            "DTSTART:20260105T130000Z",
            "DTEND:20260105T170000Z",
            "RRULE:FREQ=WEEKLY;BYDAY=MO",
            "X-MICROSOFT-CDO-BUSYSTATUS:OOF",
        )
    )
    reading = read_busy(ics, "UTC", START, datetime(2026, 2, 1, tzinfo=UTC))
    assert [start.day for start, _ in reading.spans] == [5, 12, 19, 26]


def test_a_malformed_feed_is_refused_with_the_reason() -> None:
    with pytest.raises(FeedRefused, match="not an iCalendar feed"):
        read_busy(b"<html>login</html>", "UTC", START, END)


def test_overlapping_spans_merge() -> None:
    a, b, c = (datetime(2026, 1, d, tzinfo=UTC) for d in (1, 2, 3))
    assert merge([(b, c), (a, b)]) == ((a, c),)
