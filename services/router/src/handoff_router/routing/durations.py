"""Durations as RevOps writes them: ``90s``, ``15m``, ``4h``, ``2d``, or combined ``1h30m``."""

from __future__ import annotations

import re
from datetime import timedelta
from functools import lru_cache

_PART = re.compile(r"(\d+)([smhd])")
_WHOLE = re.compile(r"^(?:\d+[smhd])+$")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@lru_cache(maxsize=256)
def parse_duration(text: str) -> timedelta:
    """A positive duration from ``90s``, ``15m``, ``4h``, ``2d`` or ``1h30m``; ValueError otherwise."""
    compact = text.strip().replace(" ", "")
    if not _WHOLE.match(compact):
        raise ValueError(
            f"{text!r} is not a duration: write a number and a unit (s, m, h, d), e.g. 90s, 15m, 4h, 2d"
        )
    seconds = sum(int(number) * _SECONDS[unit] for number, unit in _PART.findall(compact))
    if seconds <= 0:
        raise ValueError(f"{text!r} must be longer than zero")
    return timedelta(seconds=seconds)
