"""The consumer's batch merge: several leads' events in any batches, in any order, repeated,
sum (in place, one row per key per batch) to the contributions of the leads' final states."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from typing import Any
from uuid import uuid5
from zoneinfo import ZoneInfo

from handoff_feedback.ingest.repository import StoredLead
from handoff_feedback.ingest.service import OUTCOME_IDS, merge_batch, outcome_id
from handoff_feedback.outcomes.facts import Fact, LeadState, Mql, apply_all
from handoff_feedback.outcomes.tally import contributions
from handoff_feedback.settings import Settings
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.unit.feedback.test_facts_and_tally import stories

SETTINGS = Settings(
    database_url="postgresql+asyncpg://unused@127.0.0.1/unused", report_timezone="Europe/Berlin"
)
ZONE = ZoneInfo("Europe/Berlin")


def as_lead(story: list[Fact], number: int) -> list[tuple[str, Fact]]:
    """The story of another lead: its own lead id and assignment ids (so leads share segments)."""
    lead_id = f"lead-{number}"
    facts: list[tuple[str, Fact]] = []
    for fact in story:
        own: Fact = fact
        if not isinstance(fact, Mql):
            own = replace(fact, assignment_id=f"{lead_id}/{fact.assignment_id}")
        facts.append((lead_id, replace(own, event_id=f"{lead_id}/{fact.event_id}")))
    return facts


@settings(max_examples=150, deadline=None)
@given(picked=st.lists(st.sampled_from(stories()), min_size=1, max_size=4), data=st.data())
def test_batches_of_many_leads_sum_to_the_final_contributions(
    picked: list[list[Fact]], data: st.DataObject
) -> None:
    events = [item for number, story in enumerate(picked) for item in as_lead(story, number)]
    repeated = data.draw(st.lists(st.sampled_from(events), max_size=8))
    stream = list(data.draw(st.permutations(events + repeated)))
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=4)))

    stored: dict[str, StoredLead] = {}
    counts: Counter[Any] = Counter()
    samples: dict[Any, Any] = {}
    published: list[str] = []
    start = 0
    for end in [*cuts, len(stream)]:
        batch: dict[str, list[Fact]] = {}
        for lead_id, fact in stream[start:end]:
            batch.setdefault(lead_id, []).append(fact)
        before = {i: stored[i] for i in batch if i in stored}  # a lead not stored yet is new
        changed, change, due = merge_batch(before, batch, SETTINGS)
        stored.update(changed)
        counts.update(change.counts)
        for key in change.removed:
            del samples[key]
        samples.update(change.added)
        published += [f"{o.lead_id}/{o.key}" for o in due]
        start = end

    finals = [apply_all(LeadState(f"lead-{n}"), [f for _, f in as_lead(s, n)]) for n, s in enumerate(picked)]
    expected: Counter[Any] = Counter()
    expected_samples: dict[Any, Any] = {}
    for final in finals:
        found = contributions(final, ZONE)
        expected.update(found.counts)
        expected_samples.update(found.samples)
    assert {k: n for k, n in counts.items() if n} == +expected
    assert samples == expected_samples
    assert len(published) == len(set(published))  # each outcome published once


@settings(max_examples=200, deadline=None)
@given(lead_id=st.text(min_size=1), key=st.text(min_size=1))
def test_an_outcome_id_is_the_uuid5_of_its_lead_and_key(lead_id: str, key: str) -> None:
    outcome = type("Outcome", (), {"lead_id": lead_id, "key": key})()
    assert outcome_id(outcome) == str(uuid5(OUTCOME_IDS, f"{lead_id}/{key}"))
