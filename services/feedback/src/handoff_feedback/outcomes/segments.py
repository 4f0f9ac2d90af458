"""Segments: the groups outcomes are counted by (source, campaign, team, rep, rule, ...).

A segment is a dimension and a value for each of its attributes, written as a key such as
``source=webinar`` or ``source=webinar,campaign=q3-launch``; ``all`` holds every lead. A
missing attribute (a lead without a campaign) is the value ``(none)``.
"""

from __future__ import annotations

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


def segment_key(dimension: Dimension, values: Mapping[str, str | None]) -> str:
    """``source=webinar,campaign=q3-launch``; ``all`` for the whole."""
    attributes = DIMENSIONS[dimension]
    if not attributes:
        return ALL
    return ",".join(f"{name}={values.get(name) or NONE}" for name in attributes)


def segment_of(key: str) -> dict[str, str]:
    """The segment as an object, ``{"source": "webinar"}``; ``{}`` for ``all``."""
    if key == ALL:
        return {}
    return dict(part.split("=", 1) for part in key.split(","))


def dimension_of(attributes: Mapping[str, str]) -> Dimension | None:
    """The dimension whose attributes are exactly these names, if any."""
    names = tuple(sorted(attributes))
    for dimension, wanted in DIMENSIONS.items():
        if tuple(sorted(wanted)) == names:
            return dimension
    return None
