"""Durations, one grammar for routing configs and settings, and precise refusals of everything else."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from handoff_shared.durations import parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90s", 90),
        ("15m", 900),
        ("4h", 14400),
        ("2d", 172800),
        ("1h30m", 5400),
        ("1d 4h", 100800),
        (" 45m ", 2700),
        ("1d2h3m4s", 93784),
        ("500ms", 0.5),
        ("1s500ms", 1.5),
    ],
)
def test_durations_are_read(text: str, seconds: float) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "write a number and a unit"),
        ("soon", "write a number and a unit"),
        ("15", "15 needs a unit"),
        ("1h30", "30 needs a unit"),
        ("3w", "unknown unit 'w'"),
        ("4H", "unknown unit 'H'"),
        ("1.5h", "whole numbers only"),
        ("30m1h", "largest first"),
        ("1h1h", "largest first"),
        ("-5m", "negative"),
        ("0s", "longer than zero"),
        ("0h0m", "longer than zero"),
        ("5m!", "unexpected '!'"),
        ("500ms1s", "largest first"),
        ("0.5s", "whole numbers only"),
        ("h", "write a number and a unit"),
    ],
)
def test_bad_durations_say_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)) as caught:
        parse_duration(text)
    assert repr(text) in str(caught.value)
