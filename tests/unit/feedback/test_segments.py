"""Segment keys: one string per segment and back, whatever characters its values hold."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest
from handoff_feedback.outcomes.segments import (
    DIMENSIONS,
    Dimension,
    InvalidSegmentKey,
    segment_key,
    segment_of,
)
from handoff_feedback.reports.errors import InvalidParameter
from handoff_feedback.reports.parameters import filters, segment
from hypothesis import given
from hypothesis import strategies as st

MIGRATIONS = Path(__file__).parents[3] / "services/feedback/src/handoff_feedback/migrations/versions"
values = st.text(min_size=1, max_size=30)
dimensions = st.sampled_from([d for d in DIMENSIONS if d != "all"])


def test_a_value_holding_separators_is_one_segment_not_another() -> None:
    key = segment_key("source", {"source": "x,campaign=spoof"})
    assert key == "source=x%2Ccampaign%3Dspoof"
    assert segment_of(key) == {"source": "x,campaign=spoof"}
    assert key != segment_key("source_campaign", {"source": "x", "campaign": "spoof"})


def test_plain_keys_read_as_before() -> None:
    assert segment_key("source_campaign", {"source": "webinar", "campaign": "q3-launch"}) == (
        "source=webinar,campaign=q3-launch"
    )
    assert segment_key("team_rep", {"team": "na", "rep": None}) == "team=na,rep=(none)"


@given(dimensions, st.dictionaries(st.sampled_from(["source", "campaign", "team", "rep", "rule"]), values))
def test_every_segment_reads_back_from_its_key(dimension: Dimension, given_values: dict[str, str]) -> None:
    wanted: dict[str, str | None] = {name: given_values.get(name, "(none)") for name in DIMENSIONS[dimension]}
    key = segment_key(dimension, wanted)
    assert segment_of(key) == wanted
    assert segment(key) == (dimension, key)


@given(dimensions, values, values, values, values)
def test_different_segments_have_different_keys(dimension: Dimension, a: str, b: str, c: str, d: str) -> None:
    names = DIMENSIONS[dimension]
    first: dict[str, str | None] = dict(zip(names, (a, b), strict=False))
    second: dict[str, str | None] = dict(zip(names, (c, d), strict=False))
    assert (segment_key(dimension, first) == segment_key(dimension, second)) == (first == second)


@given(values)
def test_keys_hold_no_control_character_or_kafka_key_separator(value: str) -> None:
    key = segment_key("source", {"source": value})
    assert "|" not in key
    assert all(ord(ch) >= 0x20 and ord(ch) != 0x7F for ch in key)


@pytest.mark.parametrize(
    "text", ["source", "source=a,b", "source=50%", "source=%zz", "source=%C3", "Source=a"]
)
def test_strings_no_key_is_written_as_are_refused(text: str) -> None:
    with pytest.raises(InvalidSegmentKey):
        segment_of(text)
    with pytest.raises(InvalidParameter):
        segment(text)


def test_report_filters_take_values_as_they_are() -> None:
    assert filters({"source": "a,b", "campaign": None}, "all") == ("source", "source=a%2Cb")
    pair = ("source_campaign", "source=x,campaign=y%3Dz")
    assert filters({"source": "x", "campaign": "y=z"}, "all") == pair
    assert filters({}, "team=na") == ("team", "team=na")
    with pytest.raises(InvalidParameter, match="no segment is counted by campaign, team"):
        filters({"campaign": "c", "team": "t"}, "all")
    with pytest.raises(InvalidParameter, match="not both"):
        filters({"source": "s"}, "team=na")


def _migration() -> Any:
    spec = importlib.util.spec_from_file_location("escaped_keys", MIGRATIONS / "0006_escaped_segment_keys.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    ("dimension", "old", "values"),
    [
        ("source", "source=webinar", {"source": "webinar"}),
        ("source", "source=x,campaign=spoof", {"source": "x,campaign=spoof"}),
        ("campaign", "campaign=50%off", {"campaign": "50%off"}),
        ("source_campaign", "source=a=b,campaign=c,d", {"source": "a=b", "campaign": "c,d"}),
        ("team_rep", "team=na,rep=ana|1", {"team": "na", "rep": "ana|1"}),
    ],
)
def test_the_migration_rewrites_old_keys_as_escaped_keys(
    dimension: Dimension, old: str, values: dict[str, str]
) -> None:
    assert _migration()._rewritten(dimension, old) == segment_key(dimension, values)
