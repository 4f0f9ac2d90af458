"""Catch-up fairness after an absence (docs/reps.md): a rep back from any absence, however
long (an availability call, an auto-pause, a calendar's out of office), is not flooded. In any
run of leads right after their return they get at most their share of it plus one lead, and
the others are never pushed out for it. Checked on the pure rotation and through routing with
calendar absences."""

from __future__ import annotations

import math
from collections import Counter
from datetime import UTC, datetime, timedelta

from handoff_router.routing.config import RoutingConfig, validate_config
from handoff_router.routing.engine import RoutingState, route
from handoff_router.routing.rotation import pick
from hypothesis import given, settings
from hypothesis import strategies as st

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


@settings(max_examples=200, deadline=None)  # timed figures live in bench/, not here
@given(
    weights=st.lists(st.integers(1, 6), min_size=2, max_size=5),
    before=st.lists(st.lists(st.booleans(), min_size=5, max_size=5), max_size=30),
    away_for=st.integers(0, 300),
    returning=st.integers(0, 4),
    after=st.integers(1, 60),
)
def test_a_rep_back_from_an_absence_gets_at_most_their_share_plus_one_in_any_run_after(
    weights: list[int], before: list[list[bool]], away_for: int, returning: int, after: int
) -> None:
    members = [(f"r{i}", w) for i, w in enumerate(weights)]
    back = members[returning % len(members)]
    rotation: dict[str, int] = {}
    for mask in before:  # any history first
        eligible = [member for member, here in zip(members, mask, strict=False) if here]
        if eligible:
            _, rotation = pick(eligible, rotation)
    others = [member for member in members if member != back]
    for _ in range(away_for):  # the absence: the others share every lead
        _, rotation = pick(others, rotation)
    total = sum(weight for _, weight in members)
    picks: Counter[str] = Counter()
    for count in range(1, after + 1):
        chosen, rotation = pick(members, rotation)
        picks[chosen] += 1
        assert picks[back[0]] <= math.ceil(count * back[1] / total) + 1, (count, picks)


def _team_with_calendars() -> RoutingConfig:
    reps = [{"id": name, "email": f"{name}@x.io"} for name in ("a", "b", "c")]
    return validate_config(
        {
            "reps": [*reps, {"id": "fb", "email": "fb@x.io"}],
            "teams": [
                {"id": "t", "strategy": "round_robin", "members": ["a", "b", "c"]},
                {"id": "overflow", "members": ["fb"]},
            ],
            "rules": [{"id": "all", "when": {"country": {"exists": True}}, "team": "t"}],
            "fallback_team": "overflow",
        }
    )


@settings(max_examples=60, deadline=None)
@given(away_leads=st.integers(1, 200), after=st.integers(1, 30))
def test_a_rep_back_from_a_calendar_absence_is_not_flooded(away_leads: int, after: int) -> None:
    config = _team_with_calendars()
    state = RoutingState(calendar={"a": ((NOW, NOW + timedelta(days=7)),)})
    for step in range(away_leads):  # a week out of office: a is skipped with reason calendar
        decision, state = route(
            {"lead_id": f"l{step}", "email": "p@x.io", "country": "DE"}, config, state, NOW
        )
        assert decision.rep_id != "a"
        assert ("a", "calendar") in {(s.rep_id, s.reason) for s in decision.explanation.skipped}
    back = NOW + timedelta(days=8)
    picks: Counter[str | None] = Counter()
    for step in range(1, after + 1):
        decision, state = route(
            {"lead_id": f"z{step}", "email": "p@x.io", "country": "DE"}, config, state, back
        )
        picks[decision.rep_id] += 1
        assert picks["a"] <= math.ceil(step / 3) + 1, picks
