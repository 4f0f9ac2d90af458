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


def weighted_team(weights: list[int]) -> Any:
    reps = [rep(f"r{i}", weight=w) for i, w in enumerate(weights)]
    return validate_config(
        config_data(
            reps=[*reps, rep("fb")],
            teams=[
                {"id": "t", "strategy": "weighted_round_robin", "members": [r["id"] for r in reps]},
                {"id": "overflow", "members": ["fb"]},
            ],
            accounts=[],
            rules=[{"id": "all", "when": {"country": {"exists": True}}, "team": "t"}],
        )
    )


@settings(max_examples=30)
@given(
    weights=st.lists(st.integers(1, 6), min_size=1, max_size=5),
    countries=st.lists(st.sampled_from(["DE", "US", "JP"]), min_size=1, max_size=120),
)
def test_weighted_team_shares_through_route_stay_within_one_and_exact_per_cycle(
    weights: list[int], countries: list[str]
) -> None:
    cfg = weighted_team(weights)
    state = RoutingState()
    chosen: list[str | None] = []
    for index, country in enumerate(countries):
        decision, state = route(
            {"lead_id": f"l{index}", "email": "p@x.io", "country": country}, cfg, state, NOW
        )
        chosen.append(decision.rep_id)
    total = sum(weights)
    for count in range(1, len(chosen) + 1):
        prefix = Counter(chosen[:count])
        assert all(abs(prefix[f"r{i}"] - count * w / total) <= 1 for i, w in enumerate(weights))
    for start in range(len(chosen) - total + 1):  # any window of a whole cycle
        window = Counter(chosen[start : start + total])
        assert window == {f"r{i}": w for i, w in enumerate(weights)}


def test_three_to_one_team_gets_exactly_three_to_one_over_any_four_k_leads() -> None:
    cfg = weighted_team([3, 1])
    state = RoutingState()
    chosen = []
    for index in range(400):
        decision, state = route({"lead_id": f"l{index}", "email": "p@x.io", "country": "DE"}, cfg, state, NOW)
        chosen.append(decision.rep_id)
    for start in range(len(chosen)):
        for length in range(4, len(chosen) - start + 1, 4):
            if length > 40:
                break
            window = Counter(chosen[start : start + length])
            assert window == {"r0": 3 * length // 4, "r1": length // 4}


@settings(max_examples=60)
@given(
    weights=st.lists(st.integers(1, 6), min_size=1, max_size=6),
    present=st.lists(st.lists(st.booleans(), min_size=6, max_size=6), max_size=150),
)
def test_rotation_stays_small_whoever_is_skipped(weights: list[int], present: list[list[bool]]) -> None:
    members = [(f"r{i}", w) for i, w in enumerate(weights)]
    total = sum(weights)
    rotation: dict[str, int] = {}
    for mask in present:
        eligible = [member for member, here in zip(members, mask, strict=False) if here]
        if not eligible:
            continue
        _, rotation = pick(eligible, rotation)
        assert sum(rotation.values()) == 0
        assert all(abs(value) < total for value in rotation.values())


@settings(max_examples=60)
@given(
    weights=st.lists(st.integers(1, 6), min_size=2, max_size=5),
    present=st.lists(st.lists(st.booleans(), min_size=5, max_size=5), max_size=100),
    cycles=st.integers(1, 4),
)
def test_a_rep_back_from_any_absence_gets_at_most_one_lead_of_catch_up(
    weights: list[int], present: list[list[bool]], cycles: int
) -> None:
    members = [(f"r{i}", w) for i, w in enumerate(weights)]
    rotation: dict[str, int] = {}
    for mask in present:
        eligible = [member for member, here in zip(members, mask, strict=False) if here]
        if eligible:
            _, rotation = pick(eligible, rotation)
    picks: Counter[str] = Counter()
    for _ in range(sum(weights) * cycles):
        chosen, rotation = pick(members, rotation)
        picks[chosen] += 1
    assert all(abs(picks[rep_id] - weight * cycles) <= 1 for rep_id, weight in members)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
LEAD_FIELDS = st.sampled_from(
    ["country", "company", "email", "score", "attributes", "product_interest", "source"]
)


ROUTING = validate_config(config_data())


@settings(max_examples=120)
@given(
    lead=st.dictionaries(LEAD_FIELDS, JSON | st.sampled_from(["DE", "US", "a@acme.io", "FR"])),
    domain=JSON | st.sampled_from(["acme.io", "EU.ACME.IO", ".", "", "acme.io.", "@"]),
)
def test_any_lead_lands_on_a_rep_or_the_queue_and_never_raises(lead: dict[str, Any], domain: Any) -> None:
    if isinstance(lead.get("company"), dict):
        lead["company"]["domain"] = domain
    decision, state = route(lead, ROUTING, RoutingState(), NOW)
    if decision.rep_id is None:
        assert decision.explanation.matched_by == "none"
    else:
        assert state.load[decision.rep_id].open == 1
        assert decision.team_id is not None


@settings(max_examples=40)
@given(
    steps=st.lists(st.tuples(COUNTRIES, st.integers(0, 8 * 3600)), max_size=60),
    per_day=st.tuples(*[st.integers(0, 3)] * 4, st.integers(1, 3)),
)
def test_no_rep_gets_more_than_max_per_day_on_their_local_day(
    steps: list[tuple[str | None, int]], per_day: tuple[int, ...]
) -> None:
    data = config_data()
    for rep_data, cap in zip(data["reps"], per_day, strict=True):
        rep_data.update(max_per_day=cap, max_open=None)
    cfg = validate_config(data)
    state = RoutingState()
    now = NOW
    given_on: Counter[tuple[str, str]] = Counter()
    for index, (country, wait) in enumerate(steps):
        now += timedelta(seconds=wait)
        lead = as_lead(index, {"country": country, "employees": 2000, "domain": "x.com"})
        decision, state = route(lead, cfg, state, now)
        if decision.rep_id is not None:
            day = state.load[decision.rep_id].day
            assert day is not None
            given_on[(decision.rep_id, day.isoformat())] += 1
    caps = {rep_data["id"]: cap for rep_data, cap in zip(data["reps"], per_day, strict=True)}
    assert all(count <= caps[rep_id] for (rep_id, _), count in given_on.items())
