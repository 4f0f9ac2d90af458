"""The feedback core: order-tolerant, idempotent lead state, what it counts, and its outcomes."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from handoff_feedback.outcomes import documents
from handoff_feedback.outcomes.decisions import outcomes_of
from handoff_feedback.outcomes.facts import Fact, LeadState, apply_all
from handoff_feedback.outcomes.tally import Contributions, contributions, delta, percentile, tally_of
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.unit.feedback.leads import (
    T0,
    accepted,
    assigned,
    escalated,
    full_story,
    mql,
    qualified,
    rejected,
)

UTC_ZONE = ZoneInfo("UTC")


def state_of(facts: list[Fact], lead_id: str = "lead-1") -> LeadState:
    return apply_all(LeadState(lead_id), facts)


def counts(state: LeadState, dimension: str, key: str, kind: str = "day") -> Counter[str]:
    found: Counter[str] = Counter()
    for (d, k, w, _, measure), n in contributions(state, UTC_ZONE).counts.items():
        if d == dimension and k == key and w == kind:
            found[measure] += n
    return found


def stories() -> list[list[Fact]]:
    """Leads with every kind of history, including conflicting duplicates."""
    return [
        full_story(),
        [mql(), assigned(), accepted(), qualified(outcome="disqualified", reason="no_budget")],
        [
            assigned(),
            escalated("asg-1", "remind"),
            escalated("asg-1", "escalate"),
            escalated("asg-1", "reassign"),
        ],
        [accepted(), assigned()],  # a decision seen before its assignment
        [mql(source="event"), assigned(source="webinar"), rejected(reason="spam")],
        [accepted(seconds=100), accepted(seconds=50), assigned()],  # two acceptances: the earlier counts
    ]


@settings(max_examples=300, deadline=None)
@given(story=st.sampled_from(stories()), data=st.data())
def test_any_permutation_or_duplication_of_a_leads_events_gives_the_same_state(
    story: list[Fact], data: st.DataObject
) -> None:
    extra = data.draw(st.lists(st.sampled_from(story), max_size=6))
    shuffled = data.draw(st.permutations(story + extra))

    expected = state_of(story)
    state = state_of(list(shuffled))

    assert state == expected
    assert contributions(state, UTC_ZONE) == contributions(expected, UTC_ZONE)
    assert outcomes_of(state) == outcomes_of(expected)


@settings(max_examples=200, deadline=None)
@given(story=st.sampled_from(stories()), data=st.data())
def test_deltas_applied_batch_by_batch_add_up_to_the_final_contributions(
    story: list[Fact], data: st.DataObject
) -> None:
    shuffled = list(data.draw(st.permutations(story)))
    cuts = sorted(data.draw(st.lists(st.integers(0, len(shuffled)), max_size=4)))
    total: Counter[tuple[object, ...]] = Counter()
    samples: dict[Any, Any] = {}
    state, start = LeadState("lead-1"), 0
    for end in [*cuts, len(shuffled)]:
        before = contributions(state, UTC_ZONE)
        state = apply_all(state, shuffled[start:end])
        change = delta(before, contributions(state, UTC_ZONE))
        total.update(change.counts)
        samples.update(change.added)
        for key in change.removed:
            del samples[key]
        start = end

    final = contributions(state_of(story), UTC_ZONE)
    assert +total == final.counts
    assert samples == final.samples


def test_state_survives_its_document() -> None:
    for story in stories():
        state = state_of(story)
        assert documents.from_document(documents.to_document(state)) == state


def test_a_reassigned_lead_counts_once_as_mql_and_once_per_assignment() -> None:
    state = state_of(full_story())

    everything = counts(state, "all", "all")
    assert everything["mqls"] == 1
    assert everything["assigned"] == 2
    assert everything["rejected"] == 1
    assert everything["rejected:wrong_territory"] == 1
    assert everything["accepted"] == 1
    assert everything["sqls"] == 1
    assert everything["escalated:remind"] == 1
    assert counts(state, "rep", "rep=rep-ana") == Counter(
        {"mqls": 1, "assigned": 1, "rejected": 1, "rejected:wrong_territory": 1, "escalated:remind": 1}
    )
    assert counts(state, "rep", "rep=rep-carl")["sqls"] == 1
    assert counts(state, "source_campaign", "source=webinar,campaign=q3")["accepted"] == 1


def test_a_decision_before_its_assignment_counts_only_once_the_assignment_is_known() -> None:
    assert counts(state_of([accepted()]), "all", "all") == Counter()
    assert counts(state_of([accepted(), assigned()]), "all", "all")["accepted"] == 1


def test_the_mql_event_decides_the_leads_source_over_what_the_assignment_carried() -> None:
    state = state_of([assigned(source="webinar"), mql(source="event")])
    assert counts(state, "source", "source=event")["assigned"] == 1
    assert counts(state, "source", "source=webinar") == Counter()


def test_the_sla_taking_a_lead_away_is_an_expired_outcome() -> None:
    state = state_of([assigned(), escalated("asg-1", "remind"), escalated("asg-1", "reassign")])
    (outcome,) = outcomes_of(state)
    assert (outcome.outcome, outcome.reason, outcome.seconds_to_decision) == (
        "expired",
        "sla_reassigned",
        5 * 3600 + 3540,
    )
    assert counts(state, "team", "team=na")["expired"] == 1


def test_outcomes_carry_what_scoring_trains_on() -> None:
    outcomes = outcomes_of(state_of(full_story()))

    assert [(o.assignment_id, o.outcome, o.reason) for o in outcomes] == [
        ("asg-1", "rejected", "wrong_territory"),
        ("asg-2", "accepted", None),
        ("asg-2", "sql", None),
    ]
    accepted_outcome = outcomes[1]
    assert (accepted_outcome.team_id, accepted_outcome.source, accepted_outcome.campaign) == (
        "na",
        "webinar",
        "q3",
    )
    assert accepted_outcome.seconds_to_decision == 9000
    assert accepted_outcome.lead["country"] == "US"
    assert len({o.key for o in outcomes}) == 3


def test_measures_count_in_the_window_of_their_own_moment_in_the_configured_timezone() -> None:
    # Assigned 23:30 New York time on Monday, accepted 00:30 on Tuesday there.
    ny = ZoneInfo("America/New_York")
    late = datetime(2026, 3, 3, 4, 30, tzinfo=UTC)
    state = state_of([assigned(at=late), accepted(seconds=(late - T0).total_seconds() - 60 + 3600)])
    windows = {
        (measure, start)
        for (d, _, kind, start, measure), _n in contributions(state, ny).counts.items()
        if d == "all" and kind == "day"
    }
    monday = datetime(2026, 3, 2, 5, 0, tzinfo=UTC)  # midnight in New York, EST
    assert ("assigned", monday) in windows
    assert ("accepted", monday + timedelta(days=1)) in windows


def test_percentiles_are_exact_by_linear_interpolation() -> None:
    assert percentile([], 0.5) is None
    assert percentile([7.0], 0.9) == 7.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 0.5) == 2.5
    assert percentile([10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0, 80.0, 90.0, 100.0], 0.9) == 91.0
    assert percentile([5.0, 1.0, 3.0], 0.5) == 3.0


def test_tally_rates_and_breakdowns() -> None:
    tally = tally_of(
        {
            "mqls": 10,
            "accepted": 6,
            "rejected": 2,
            "rejected:spam": 1,
            "rejected:not_icp": 1,
            "sqls": 3,
            "escalated:remind": 4,
        },
        [60.0, 120.0, 180.0],
    )
    assert tally.acceptance_rate == 0.75
    assert tally.sal_to_sql_rate == 0.5
    assert tally.rejected_by_reason == {"not_icp": 1, "spam": 1}
    assert tally.escalations == {"remind": 4, "escalate": 0, "reassign": 0}
    assert (tally.seconds_to_accept_p50, tally.seconds_to_accept_p90) == (120.0, 168.0)
    assert tally_of({}, []).acceptance_rate == 0.0


def test_an_empty_delta_for_a_duplicate() -> None:
    state = state_of(full_story())
    again = apply_all(state, full_story())
    change = delta(contributions(state, UTC_ZONE), contributions(again, UTC_ZONE))
    assert (change.counts, change.added, change.removed) == ({}, {}, [])
    assert delta(Contributions(), contributions(state, UTC_ZONE)).counts
