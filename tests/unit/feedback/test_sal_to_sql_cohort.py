"""SAL -> SQL by acceptance cohort: a window's SQLs are the qualifications of the leads accepted
in it, so no window ever has more SQLs than acceptances, every window makes a valid
``scoring.feedback_snapshot``, and a window that does not (aggregates of an older definition)
is skipped instead of stalling the snapshot loop."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any, cast
from zoneinfo import ZoneInfo

import pytest
from handoff_feedback.aggregates import WindowKey
from handoff_feedback.outcomes.facts import Fact, LeadState, Qualification, Qualified, apply_all
from handoff_feedback.outcomes.signals import Counts, SignalPolicy, signals_of
from handoff_feedback.outcomes.tally import contributions, tally_of
from handoff_feedback.outcomes.windows import window_of
from handoff_feedback.settings import Settings
from handoff_feedback.snapshots.service import SNAPSHOTS_SKIPPED, Snapshots, snapshot_data
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.unit.feedback.leads import T0, accepted, assigned, mql
from tests.unit.feedback.test_batch_merge import as_lead
from tests.unit.feedback.test_facts_and_tally import stories

ZONES = [ZoneInfo("UTC"), ZoneInfo("America/New_York"), ZoneInfo("Asia/Tokyo")]
MONDAY = datetime(2026, 3, 2, tzinfo=UTC)


def windows_of(leads: list[LeadState], zone: ZoneInfo) -> dict[tuple[Any, ...], Counter[str]]:
    found: dict[tuple[Any, ...], Counter[str]] = defaultdict(Counter)
    for lead in leads:
        for (dimension, key, kind, start, measure), n in contributions(lead, zone).counts.items():
            found[(dimension, key, kind, start)][measure] += n
    return found


def accepted_monday_qualified_tuesday(lead_id: str, outcome: Qualification = "sql") -> LeadState:
    asg = f"asg-{lead_id}"
    facts: list[Fact] = [
        mql(lead_id),
        assigned(asg, lead_id),
        accepted(asg, seconds=600),  # Monday 09:11 UTC
        Qualified(f"q-{lead_id}", T0 + timedelta(days=1), asg, "rep-ana", outcome, None, 86000.0),
    ]
    return apply_all(LeadState(lead_id), facts)


def test_an_sql_counts_in_the_window_its_lead_was_accepted_in() -> None:
    lead = accepted_monday_qualified_tuesday("lead-1")
    days = windows_of([lead], ZoneInfo("UTC"))
    monday = days[("all", "all", "day", MONDAY)]
    assert (monday["accepted"], monday["sqls"]) == (1, 1)
    assert days[("all", "all", "day", MONDAY + timedelta(days=1))]["sqls"] == 0


def test_two_sqls_of_one_day_of_leads_accepted_before_never_give_a_rate_over_one() -> None:
    # Two leads accepted on Monday become SQLs on Tuesday, when a third lead is accepted.
    third = apply_all(
        LeadState("lead-3"),
        [
            mql("lead-3"),
            assigned("asg-lead-3", "lead-3", at=T0 + timedelta(days=1)),
            accepted("asg-lead-3", seconds=86400),
        ],
    )
    leads = [accepted_monday_qualified_tuesday("lead-1"), accepted_monday_qualified_tuesday("lead-2"), third]
    days = windows_of(leads, ZoneInfo("UTC"))
    tuesday = tally_of(days[("all", "all", "day", MONDAY + timedelta(days=1))], [])
    assert (tuesday.accepted, tuesday.sqls, tuesday.sal_to_sql_rate) == (1, 0, 0.0)
    monday = tally_of(days[("all", "all", "day", MONDAY)], [])
    assert (monday.accepted, monday.sqls, monday.sal_to_sql_rate) == (2, 2, 1.0)


@settings(max_examples=100, deadline=None)
@given(
    picked=st.lists(st.sampled_from(stories()), min_size=1, max_size=6),
    zone=st.sampled_from(ZONES),
    extra=st.integers(0, 3),
)
def test_every_window_of_any_leads_makes_a_valid_snapshot(
    picked: list[list[Fact]], zone: ZoneInfo, extra: int
) -> None:
    leads = []
    for number, story in enumerate(picked):
        facts = [fact for _, fact in as_lead(story, number)]
        lead = apply_all(LeadState(f"lead-{number}"), facts)
        leads.append(lead)
    # These qualify a day after accepting: in another window than the acceptance in any zone.
    outcomes: tuple[Qualification, ...] = ("sql", "disqualified")
    leads += [accepted_monday_qualified_tuesday(f"extra-{i}", outcomes[i % 2]) for i in range(extra)]
    for (dimension, key, kind, start), counts in windows_of(leads, zone).items():
        tally = tally_of(counts, [])
        assert tally.is_consistent
        assert tally.sqls + tally.disqualified <= tally.accepted
        end = window_of(start, kind, zone)[1]
        snapshot_data(WindowKey(dimension, key, kind, start), end, tally)  # no ValidationError


class Unused:
    """The runtime a snapshot's message does not need."""


def test_a_window_that_is_not_a_valid_snapshot_is_skipped_and_counted() -> None:
    settings = Settings(database_url="postgresql+asyncpg://unused@127.0.0.1/unused")
    snapshots = Snapshots(cast(Any, Unused()), settings, lambda: MONDAY)
    key = WindowKey("all", "all", "day", MONDAY)
    end = MONDAY + timedelta(days=1)
    before = SNAPSHOTS_SKIPPED._value.get()

    assert snapshots._snapshot_or_none(key, end, tally_of({"accepted": 1, "sqls": 2}, [])) is None
    assert snapshots._snapshot_or_none(key, end, tally_of({"accepted": -1}, [])) is None
    assert SNAPSHOTS_SKIPPED._value.get() == before + 2
    good = snapshots._snapshot_or_none(key, end, tally_of({"accepted": 2, "sqls": 1}, []))
    assert good is not None
    assert SNAPSHOTS_SKIPPED._value.get() == before + 2


POLICY = SignalPolicy(alpha=0.01, min_sample=20)


@pytest.mark.parametrize(
    ("rep", "team"),
    [
        (Counts(accepted=25, rejected=0, sqls=30), Counts(accepted=60, rejected=5, sqls=40)),
        (Counts(accepted=25, rejected=0, sqls=5), Counts(accepted=60, rejected=5, sqls=70)),
        (Counts(accepted=25, rejected=10, sqls=5), Counts(accepted=20, rejected=5, sqls=5)),
    ],
)
def test_inconsistent_counts_give_unflagged_signals_not_an_error(rep: Counts, team: Counts) -> None:
    high, stamp = signals_of(rep, team, POLICY)
    assert (high.flagged, stamp.flagged, high.evidence, stamp.evidence) == (False, False, None, None)
    assert "rebuild" in stamp.why
