"""Durations, one grammar for every service: ``500ms``, ``90s``, ``15m``, ``4h``, ``2d``, or
combined ``1h30m``. Routing configs (``sla.accept_within``) and settings (``HANDOFF_OUTBOX_POLL``)
read them alike.

Whole numbers only, units from largest to smallest, each unit at most once, lowercase, longer
than zero. Every refusal says what is wrong with the text, not merely that it is wrong. Pure:
no I/O, so the router's routing core may import it.
"""

from __future__ import annotations

import re
from datetime import timedelta
from functools import lru_cache

UNITS = {"d": 86_400_000, "h": 3_600_000, "m": 60_000, "s": 1000, "ms": 1}  # in milliseconds
_TOKEN = re.compile(r"(\d+(?:\.\d+)?)?([A-Za-z]+)?")
_EXAMPLES = "e.g. 90s, 15m, 4h, 2d or 1h30m"
LONGEST = timedelta(days=36_500)  # a century: longer is a typo, and past what a timestamp holds


@lru_cache(maxsize=256)
def parse_duration(text: str) -> timedelta:
    """A positive duration from ``90s``, ``15m``, ``4h``, ``2d``, ``1h30m`` or ``500ms``; else ValueError."""
    compact = text.strip().replace(" ", "")
    if not any(character.isdigit() for character in compact):
        raise ValueError(f"{text!r} is not a duration: write a number and a unit, {_EXAMPLES}")
    if compact.startswith("-"):
        raise ValueError(f"{text!r} is negative: a duration must be longer than zero")
    milliseconds = 0
    previous = ""
    position = 0
    while position < len(compact):
        match = _TOKEN.match(compact, position)
        assert match is not None  # the pattern matches the empty string
        if match.end() == position:
            raise ValueError(f"{text!r} is not a duration: unexpected {compact[position]!r}, {_EXAMPLES}")
        number, unit = match.groups()
        problem = _problem(number, unit, previous)
        if problem:
            raise ValueError(f"{text!r} is not a duration: {problem}")
        milliseconds += int(number) * UNITS[unit]
        previous = unit
        position = match.end()
    if milliseconds <= 0:
        raise ValueError(f"{text!r} must be longer than zero")
    if milliseconds > LONGEST // timedelta(milliseconds=1):
        raise ValueError(f"{text!r} is longer than the longest duration allowed ({LONGEST.days}d)")
    return timedelta(milliseconds=milliseconds)


def _problem(number: str | None, unit: str | None, previous: str) -> str:
    if number is None:
        return f"{unit!r} needs a number before it, {_EXAMPLES}"
    if unit is None:
        return f"{number} needs a unit (ms, s, m, h or d), {_EXAMPLES}"
    if "." in number:
        return "whole numbers only (write 1h30m rather than 1.5h)"
    if unit not in UNITS:
        return f"unknown unit {unit!r}; use ms, s, m, h or d (lowercase)"
    order = list(UNITS)
    if previous and order.index(unit) <= order.index(previous):
        return "write each unit once, largest first (e.g. 1d4h, 1h30m)"
    return ""
