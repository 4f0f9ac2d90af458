"""Segments: the groups outcomes are counted by (source, campaign, team, rep, rule, ...).

A segment is a dimension and a value for each of its attributes, ``{"source": "webinar",
"campaign": "q3-launch"}``; ``all`` holds every lead. A missing attribute (a lead without a
campaign) is the value ``(none)``. Any character may appear in a value.

Its key (stored, and the ``segment_key`` of reports and events) is one string per segment
and back: ``name=value`` pairs in the dimension's order joined by ``,``, each value
percent-encoded where it holds ``%``, ``,``, ``=``, ``|`` or a control character (the UTF-8
bytes of that character as ``%XX``). So ``source=webinar,campaign=q3-launch`` reads as
before, and a source ``x,campaign=spoof`` is the one segment ``source=x%2Ccampaign%3Dspoof``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Literal

Dimension = Literal["all", "source", "campaign", "source_campaign", "team", "rep", "team_rep", "rule"]
Attribute = Literal["source", "campaign", "team", "rep", "rule"]

DIMENSIONS: dict[Dimension, tuple[Attribute, ...]] = {
    "all": (),
    "source": ("source",),
    "campaign": ("campaign",),
    "source_campaign": ("source", "campaign"),
    "team": ("team",),
    "rep": ("rep",),
    "team_rep": ("team", "rep"),
    "rule": ("rule",),
}
# Dimensions that need only the lead (the others need its assignment).
LEAD_DIMENSIONS: tuple[Dimension, ...] = ("all", "source", "campaign", "source_campaign")
ASSIGNMENT_DIMENSIONS: tuple[Dimension, ...] = ("team", "rep", "team_rep", "rule")
NONE = "(none)"
ALL = "all"
# Characters a key writes as %XX: the separators, the escape itself and control characters.
_ESCAPED = re.compile(r"[%,=|\x00-\x1f\x7f]")
_ESCAPE = re.compile(r"%([0-9A-Fa-f]{2})")
_NAME = re.compile(r"[a-z_]+")


class InvalidSegmentKey(ValueError):
    """A string that is not a segment key."""


def escape(value: str) -> str:
    """``value`` with every separator, ``%`` and control character as ``%XX`` (its UTF-8 bytes)."""
    return _ESCAPED.sub(lambda m: "".join(f"%{b:02X}" for b in m.group().encode()), value)


def unescape(text: str) -> str:
    """The value ``escape`` wrote; InvalidSegmentKey for a raw separator or a broken escape."""
    if _ESCAPED.search(_ESCAPE.sub("", text)):
        raise InvalidSegmentKey(f"{text[:80]!r} holds a raw '%', ',', '=', '|' or control character")
    raw = bytearray()
    position = 0
    for match in _ESCAPE.finditer(text):
        raw += text[position : match.start()].encode()
        raw.append(int(match.group(1), 16))
        position = match.end()
    raw += text[position:].encode()
    try:
        return raw.decode()
    except UnicodeDecodeError:
        raise InvalidSegmentKey(f"{text[:80]!r}: its %XX escapes are not UTF-8") from None


def segment_key(dimension: Dimension, values: Mapping[str, str | None]) -> str:
    """``source=webinar,campaign=q3-launch``; ``all`` for the whole; values escaped."""
    attributes = DIMENSIONS[dimension]
    if not attributes:
        return ALL
    return ",".join(f"{name}={escape(values.get(name) or NONE)}" for name in attributes)


def segment_of(key: str) -> dict[str, str]:
    """The segment of a key, ``{"source": "webinar"}``; ``{}`` for ``all``. InvalidSegmentKey
    for a string no ``segment_key`` writes (a part without ``=``, an unknown name, ...)."""
    if key == ALL:
        return {}
    found: dict[str, str] = {}
    for part in key.split(","):
        name, equals, value = part.partition("=")
        if not equals or not _NAME.fullmatch(name) or name in found:
            raise InvalidSegmentKey(f"{part[:80]!r} is not name=value")
        found[name] = unescape(value)
    return found


def dimension_of(attributes: Mapping[str, object]) -> Dimension | None:
    """The dimension whose attributes are exactly these names, if any."""
    names = tuple(sorted(attributes))
    for dimension, wanted in DIMENSIONS.items():
        if tuple(sorted(wanted)) == names:
            return dimension
    return None
