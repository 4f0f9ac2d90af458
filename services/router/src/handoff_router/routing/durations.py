"""Durations as RevOps writes them: ``90s``, ``15m``, ``4h``, ``2d``, or combined ``1h30m``.

Whole numbers only, units from largest to smallest, each unit at most once, lowercase.
Every refusal says what is wrong with the text, not merely that it is wrong.
"""

from __future__ import annotations

import re
from datetime import timedelta
from functools import lru_cache

UNITS = {"d": 86400, "h": 3600, "m": 60, "s": 1}
_TOKEN = re.compile(r"(\d+(?:\.\d+)?)?([A-Za-z]+)?")
_EXAMPLES = "e.g. 90s, 15m, 4h, 2d or 1h30m"


@lru_cache(maxsize=256)
def parse_duration(text: str) -> timedelta:
    """A positive duration from ``90s``, ``15m``, ``4h``, ``2d`` or ``1h30m``; ValueError saying why not."""
    compact = text.strip().replace(" ", "")
    if not any(character.isdigit() for character in compact):
        raise ValueError(f"{text!r} is not a duration: write a number and a unit, {_EXAMPLES}")
    if compact.startswith("-"):
        raise ValueError(f"{text!r} is negative: a duration must be longer than zero")
    seconds = 0
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
        seconds += int(number) * UNITS[unit]
        previous = unit
        position = match.end()
    if seconds <= 0:
        raise ValueError(f"{text!r} must be longer than zero")
    return timedelta(seconds=seconds)


def _problem(number: str | None, unit: str | None, previous: str) -> str:
    if number is None:
        return f"{unit!r} needs a number before it, {_EXAMPLES}"
    if unit is None:
        return f"{number} needs a unit (s, m, h or d), {_EXAMPLES}"
    if "." in number:
        return "whole numbers only (write 1h30m rather than 1.5h)"
    if unit not in UNITS:
        return f"unknown unit {unit!r}; use s, m, h or d (lowercase)"
    order = list(UNITS)
    if previous and order.index(unit) <= order.index(previous):
        return "write each unit once, largest first (e.g. 1d4h, 1h30m)"
    return ""
