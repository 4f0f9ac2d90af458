"""Invariants of the routing core, for any sequence of leads (hypothesis)."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from handoff_router.routing.config import validate_config
from handoff_router.routing.engine import Availability, RepLoad, RoutingState, route
from handoff_router.routing.rotation import pick
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.unit.router.sample import config_data, rep

NOW = datetime(2026, 11, 24, 14, tzinfo=UTC)
COUNTRIES = st.sampled_from(["DE", "AT", "FR", "US", "BR", "JP", None])
LEADS = st.lists(
    st.fixed_dictionaries(
        {
            "country": COUNTRIES,
            "employees": st.integers(0, 5000),
            "domain": st.sampled_from(["acme.io", "x.com"]),
        }
    ),
    max_size=60,
)


def as_lead(index: int, fields: dict[str, Any]) -> dict[str, Any]:
    lead: dict[str, Any] = {
        "lead_id": f"l{index}",
        "email": "p@example.com",
        "company": {"employees": fields["employees"], "domain": fields["domain"]},
    }
    if fields["country"] is not None:
        lead["country"] = fields["country"]
    return lead


@given(weights=st.lists(st.integers(1, 6), min_size=1, max_size=5), rounds=st.integers(1, 6))
def test_weighted_rotation_gives_exact_shares_every_cycle(weights: list[int], rounds: int) -> None:
    members = [(f"r{i}", w) for i, w in enumerate(weights)]
    rotation: dict[str, int] = {}
    picks: Counter[str] = Counter()
    for _ in range(sum(weights) * rounds):
        chosen, rotation = pick(members, rotation)
        picks[chosen] += 1
    assert picks == {rep_id: weight * rounds for rep_id, weight in members}


@given(weights=st.lists(st.integers(1, 6), min_size=1, max_size=5), count=st.integers(0, 200))
def test_weighted_shares_stay_within_one_lead_at_any_point(weights: list[int], count: int) -> None:
    members = [(f"r{i}", w) for i, w in enumerate(weights)]
    rotation: dict[str, int] = {}
    picks: Counter[str] = Counter()
    for _ in range(count):
        chosen, rotation = pick(members, rotation)
        picks[chosen] += 1
    total = sum(weights)
    for rep_id, weight in members:
        assert abs(picks[rep_id] - count * weight / total) <= 1


@settings(max_examples=60)
@given(
    leads=LEADS,
    caps=st.tuples(*[st.integers(0, 3)] * 4, st.integers(1, 3)),  # the fallback rep (last) has room
    away=st.sets(st.sampled_from(["ana", "ben", "cy", "dee", "fb"])),
)
def test_every_lead_lands_somewhere_and_caps_hold(
    leads: list[dict[str, Any]], caps: tuple[int, ...], away: set[str]
) -> None:
    data = config_data()
    for rep_data, cap in zip(data["reps"], caps, strict=True):
        rep_data["max_open"] = cap
    cfg = validate_config(data)
    state = RoutingState(availability={rep_id: Availability(False) for rep_id in away})
    for index, fields in enumerate(leads):
        decision, state = route(as_lead(index, fields), cfg, state, NOW)
        if decision.rep_id is None:
            assert decision.explanation.matched_by == "none"
            continue
        assert decision.rep_id not in away
        assert decision.team_id is not None
        assert decision.sla_due_at is not None
        assert decision.sla_due_at > NOW
    for rep_data, cap in zip(data["reps"], caps, strict=True):
        assert state.load.get(rep_data["id"], RepLoad()).open <= cap


@settings(max_examples=40)
@given(leads=LEADS, opens=st.dictionaries(st.sampled_from(["ana", "ben", "dee"]), st.integers(0, 5)))
def test_routing_is_deterministic_given_state(leads: list[dict[str, Any]], opens: dict[str, int]) -> None:
    cfg = validate_config(config_data())
    start = RoutingState(load={rep_id: RepLoad(open=n) for rep_id, n in opens.items()})

    def run() -> list[tuple[str | None, str]]:
        state = start
        out = []
        for index, fields in enumerate(leads):
            decision, state = route(as_lead(index, fields), cfg, state, NOW)
            out.append((decision.rep_id, decision.rule_id))
        return out

    assert run() == run()


@settings(max_examples=40)
@given(absences=st.lists(st.sets(st.sampled_from(["a", "b", "c"])), min_size=1, max_size=40))
def test_round_robin_stays_fair_while_reps_come_and_go(absences: list[set[str]]) -> None:
    data = config_data(
        reps=[rep("a"), rep("b"), rep("c"), rep("fb")],
        teams=[
            {"id": "t", "strategy": "round_robin", "members": ["a", "b", "c"]},
            {"id": "overflow", "members": ["fb"]},
        ],
        accounts=[],
        rules=[{"id": "all", "when": {"country": {"exists": True}}, "team": "t"}],
    )
    cfg = validate_config(data)
    state = RoutingState()
    for step, away in enumerate(absences):
        state = RoutingState(state.rotation, state.load, {r: Availability(False) for r in away})
        decision, state = route({"lead_id": f"l{step}", "email": "p@x.io", "country": "DE"}, cfg, state, NOW)
        assert decision.rep_id not in away
    # With everyone back nobody starves and nobody gets a burst: over the next nine
    # leads each rep gets two to four.
    state = RoutingState(state.rotation, state.load, {})
    chosen: Counter[str | None] = Counter()
    for step in range(9):
        decision, state = route(
            {"lead_id": f"z{step}", "email": "p@x.io", "country": "DE"},
            cfg,
            state,
            NOW + timedelta(minutes=step),
        )
        chosen[decision.rep_id] += 1
    assert set(chosen) == {"a", "b", "c"}
    assert all(2 <= count <= 4 for count in chosen.values()), chosen
