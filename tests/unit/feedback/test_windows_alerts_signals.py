"""Report windows in a timezone, alert crossings, and the rep quality test on known data."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from math import comb
from typing import Literal
from zoneinfo import ZoneInfo

import pytest
from handoff_feedback.outcomes.alerts import AlertRule, SegmentAlerts, judge
from handoff_feedback.outcomes.segments import dimension_of, segment_key, segment_of
from handoff_feedback.outcomes.signals import Counts, SignalPolicy, fisher_one_sided, signals_of
from handoff_feedback.outcomes.windows import window_of
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import fisher_exact


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


@pytest.mark.parametrize(
    ("zone", "moment", "start", "end"),
    [
        ("UTC", utc(2026, 3, 2, 23, 59), utc(2026, 3, 2), utc(2026, 3, 3)),
        ("UTC", utc(2026, 3, 3, 0, 0), utc(2026, 3, 3), utc(2026, 3, 4)),
        # West of UTC: 02:00 UTC on the 3rd is still the 2nd in New York.
        ("America/New_York", utc(2026, 3, 3, 2, 0), utc(2026, 3, 2, 5), utc(2026, 3, 3, 5)),
        # East of UTC: 20:00 UTC on the 2nd is already the 3rd in Tokyo.
        ("Asia/Tokyo", utc(2026, 3, 2, 20, 0), utc(2026, 3, 2, 15), utc(2026, 3, 3, 15)),
        # The day the clocks go forward in New York has 23 hours.
        ("America/New_York", utc(2026, 3, 8, 12), utc(2026, 3, 8, 5), utc(2026, 3, 9, 4)),
        # ... and the day they go back in Berlin 25.
        ("Europe/Berlin", utc(2026, 10, 25, 12), utc(2026, 10, 24, 22), utc(2026, 10, 25, 23)),
    ],
)
def test_a_day_runs_from_local_midnight_to_local_midnight(
    zone: str, moment: datetime, start: datetime, end: datetime
) -> None:
    assert window_of(moment, "day", ZoneInfo(zone)) == (start, end)


def test_a_week_starts_on_monday_local_time() -> None:
    tokyo = ZoneInfo("Asia/Tokyo")
    # Sunday 16:00 UTC is Monday 01:00 in Tokyo: a new week there.
    assert window_of(utc(2026, 3, 8, 16), "week", tokyo) == (utc(2026, 3, 8, 15), utc(2026, 3, 15, 15))
    assert window_of(utc(2026, 3, 8, 14), "week", tokyo) == (utc(2026, 3, 1, 15), utc(2026, 3, 8, 15))


def test_a_naive_moment_is_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        window_of(datetime(2026, 3, 2), "day", ZoneInfo("UTC"))  # noqa: DTZ001


def test_segment_keys_read_back() -> None:
    key = segment_key("source_campaign", {"source": "webinar", "campaign": None})
    assert key == "source=webinar,campaign=(none)"
    assert segment_of(key) == {"source": "webinar", "campaign": "(none)"}
    assert segment_key("all", {}) == "all"
    assert segment_of("all") == {}
    assert dimension_of({"campaign": "x", "source": "y"}) == "source_campaign"
    assert dimension_of({"country": "US"}) is None


RULE = AlertRule(acceptance_below=0.5, acceptance_above=0.9, min_decisions=20)
DAY = utc(2026, 3, 2)


def test_an_alert_fires_once_on_crossing_and_resolves_on_recovery() -> None:
    alerts = SegmentAlerts()
    fired = []
    # The campaign's acceptance drifts down over a day, stays low, then recovers.
    for accepted, rejected in [(15, 5), (15, 10), (15, 20), (15, 30), (15, 40), (40, 40), (41, 40)]:
        alerts, changes = judge(RULE, alerts, DAY, accepted, rejected)
        fired += [(c.direction, c.state, c.decisions) for c in changes]
    assert fired == [("below", "firing", 35), ("below", "resolved", 80)]
    assert alerts.below is False


def test_too_few_decisions_change_nothing() -> None:
    alerts, changes = judge(RULE, SegmentAlerts(), DAY, 0, 19)
    assert (alerts, changes) == (SegmentAlerts(), [])


def test_near_total_acceptance_fires_above() -> None:
    alerts, changes = judge(RULE, SegmentAlerts(), DAY, 29, 1)
    assert [(c.direction, c.state, c.threshold) for c in changes] == [("above", "firing", 0.9)]
    alerts, changes = judge(RULE, alerts, DAY + timedelta(days=1), 20, 5)
    assert [(c.direction, c.state) for c in changes] == [("above", "resolved")]


def test_a_late_event_for_an_older_window_does_not_flip_the_alert() -> None:
    alerts, _ = judge(RULE, SegmentAlerts(), DAY + timedelta(days=1), 5, 20)
    assert alerts.below
    later, changes = judge(RULE, alerts, DAY, 30, 0)
    assert (later, changes) == (alerts, [])


POLICY = SignalPolicy(alpha=0.01, min_sample=20)


def test_a_rep_rejecting_far_more_than_the_team_is_flagged_with_evidence() -> None:
    rep = Counts(accepted=10, rejected=20)
    team = rep + Counts(accepted=80, rejected=20)
    high, _ = signals_of(rep, team, POLICY)
    assert high.flagged
    assert high.evidence is not None
    assert high.evidence.rest_of_team == Counts(accepted=80, rejected=20)
    assert high.evidence.rep_rate == pytest.approx(2 / 3)
    assert high.evidence.rest_rate == pytest.approx(0.2)
    # Fisher's one-sided p: P(X >= 20) for X hypergeometric (130 decisions, 40 rejections, 30 the rep's).
    by_hand = sum(comb(40, k) * comb(90, 30 - k) for k in range(20, 31)) / comb(130, 30)
    assert high.evidence.p_value == pytest.approx(by_hand, rel=1e-9)
    assert by_hand == pytest.approx(3.41e-06, rel=0.01)


def test_a_rep_like_the_team_is_not_flagged() -> None:
    rep = Counts(accepted=24, rejected=6)
    team = Counts(accepted=104, rejected=26)
    high, stamp = signals_of(rep, team, POLICY)
    assert not high.flagged
    assert high.evidence is not None
    assert high.evidence.p_value > 0.3
    assert not stamp.flagged


def test_tiny_numbers_never_flag() -> None:
    high, stamp = signals_of(Counts(accepted=0, rejected=5), Counts(accepted=50, rejected=5), POLICY)
    assert not high.flagged
    assert high.evidence is None
    assert "too few decisions" in high.why
    assert not stamp.flagged
    assert stamp.evidence is None


def test_a_rubber_stamp_accepts_everything_and_few_become_sqls() -> None:
    rep = Counts(accepted=40, rejected=1, sqls=2)
    team = Counts(accepted=100, rejected=21, sqls=26)  # the rest: 60 accepted, 24 SQLs
    _, stamp = signals_of(rep, team, POLICY)
    assert stamp.flagged
    assert stamp.evidence is not None
    assert stamp.evidence.rep_rate == 0.05
    assert stamp.evidence.rest_rate == 0.4
    assert stamp.evidence.p_value < 0.001
    # The same conversion with a normal acceptance rate is not a rubber stamp.
    _, selective = signals_of(Counts(accepted=40, rejected=20, sqls=2), team + Counts(0, 19, 0), POLICY)
    assert not selective.flagged


@settings(max_examples=300, deadline=None)
@given(
    cells=st.lists(st.integers(0, 400), min_size=4, max_size=4),
    alternative=st.sampled_from(["greater", "less"]),
)
def test_the_one_sided_fisher_test_is_scipys(
    cells: list[int], alternative: Literal["greater", "less"]
) -> None:
    a, b, c, d = cells
    table = [[a, b], [c, d]]
    expected = float(fisher_exact(table, alternative=alternative).pvalue)
    assert fisher_one_sided(table, alternative) == pytest.approx(expected, rel=1e-9, abs=1e-300)
