"""The routing decision: accounts, rules, strategies, skips, fallback, queue, explanation."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from handoff_router.routing.config import validate_config
from handoff_router.routing.engine import Availability, RepLoad, RoutingState, Skip, route

from tests.unit.router.sample import config, config_data, lead

NOW = datetime(2026, 11, 24, 14, tzinfo=UTC)  # a Tuesday


def route_many(count: int, cfg=None, state=None, **fields):
    cfg = cfg or config()
    state = state or RoutingState()
    decisions = []
    for index in range(count):
        decision, state = route(lead(f"lead-{index}", **fields), cfg, state, NOW)
        decisions.append(decision)
    return decisions, state


def test_first_matching_rule_wins() -> None:
    (decision,), _ = route_many(1, country="DE", company={"employees": 5000})
    assert decision.rule_id == "dach"
    assert decision.team_id == "dach"


def test_weighted_team_gets_exact_shares_interleaved() -> None:
    decisions, _ = route_many(8, country="DE")
    assert [d.rep_id for d in decisions] == ["ana", "ana", "ben", "ana"] * 2


def test_named_account_matches_subdomain_and_case_before_rules() -> None:
    decision, _ = route(lead(country="DE", company={"domain": "EU.Acme.IO"}), config(), RoutingState(), NOW)
    assert (decision.rep_id, decision.rule_id) == ("ben", "account:acme.io")
    assert decision.explanation.matched_by == "named_account"
    assert decision.team_id == "dach"


def test_named_account_falls_back_to_the_email_domain() -> None:
    decision, _ = route({"lead_id": "x", "email": "pat@sales.acme.io"}, config(), RoutingState(), NOW)
    assert decision.rep_id == "ben"


def test_unrelated_domain_ending_is_not_the_account() -> None:
    decision, _ = route(lead(country="FR", company={"domain": "notacme.io"}), config(), RoutingState(), NOW)
    assert decision.rep_id == "cy"


def test_unavailable_account_owner_is_skipped_and_rules_apply() -> None:
    state = RoutingState(availability={"ben": Availability(available=False)})
    decision, _ = route(lead(country="FR", company={"domain": "acme.io"}), config(), state, NOW)
    assert decision.rep_id == "cy"
    assert Skip("ben", "unavailable") in decision.explanation.skipped


def test_rep_at_max_open_is_skipped_and_lead_goes_to_fallback() -> None:
    decisions, state = route_many(2, country="FR")
    assert [d.rep_id for d in decisions] == ["cy", "fb"]
    assert decisions[1].explanation.matched_by == "fallback"
    assert decisions[1].rule_id == "france"
    assert decisions[1].explanation.teams_tried == ("fr", "overflow")
    assert Skip("cy", "at_max_open") in decisions[1].explanation.skipped
    assert state.load["cy"].open == 1


def test_no_rule_match_goes_to_fallback_team() -> None:
    (decision,), _ = route_many(1, country="BR")
    assert (decision.rep_id, decision.team_id, decision.rule_id) == ("fb", "overflow", "fallback")


def test_nobody_anywhere_means_queued_with_reasons() -> None:
    state = RoutingState(availability={"cy": Availability(False), "fb": Availability(False)})
    decision, new_state = route(lead(country="FR"), config(), state, NOW)
    assert decision.rep_id is None
    assert decision.sla_due_at is None
    assert decision.explanation.matched_by == "none"
    assert {skip.rep_id for skip in decision.explanation.skipped} == {"cy", "fb"}
    assert new_state == state


def test_unavailability_ends_at_until() -> None:
    state = RoutingState(availability={"cy": Availability(False, until=NOW - timedelta(minutes=1))})
    decision, _ = route(lead(country="FR"), config(), state, NOW)
    assert decision.rep_id == "cy"


def test_inactive_rep_is_skipped() -> None:
    data = config_data()
    data["reps"][2]["active"] = False
    decision, _ = route(lead(country="FR"), validate_config(data), RoutingState(), NOW)
    assert decision.rep_id == "fb"
    assert Skip("cy", "inactive") in decision.explanation.skipped


def test_max_per_day_counts_the_reps_local_day() -> None:
    data = config_data()
    data["reps"][2].update(max_open=None, max_per_day=2, timezone="Asia/Tokyo")
    cfg = validate_config(data)
    decisions, state = route_many(3, cfg=cfg, country="FR")
    assert [d.rep_id for d in decisions] == ["cy", "cy", "fb"]
    assert Skip("cy", "at_max_per_day") in decisions[2].explanation.skipped
    tomorrow_in_tokyo = NOW + timedelta(hours=12)
    decision, _ = route(lead("next-day", country="FR"), cfg, state, tomorrow_in_tokyo)
    assert decision.rep_id == "cy"


def test_excluded_rep_is_skipped_on_reassignment() -> None:
    decision, _ = route(lead(country="DE"), config(), RoutingState(), NOW, exclude=frozenset({"ana"}))
    assert decision.rep_id == "ben"
    assert Skip("ana", "excluded") in decision.explanation.skipped


def test_least_loaded_picks_fewest_open_ties_by_rotation() -> None:
    state = RoutingState(load={"dee": RepLoad(open=3), "ben": RepLoad(open=1)})
    decisions, state = route_many(3, state=state, country="US", company={"employees": 2000})
    assert [d.rep_id for d in decisions] == ["ben", "ben", "dee"]
    assert decisions[0].explanation.strategy == "least_loaded"


def test_outside_working_hours_is_skipped_when_the_team_asks() -> None:
    data = config_data()
    data["sla"]["business_hours"] = {
        "start": "09:00",
        "end": "17:00",
        "days": ["mon", "tue", "wed", "thu", "fri"],
    }
    data["teams"][2]["working_hours_only"] = True
    cfg = validate_config(data)
    night = datetime(2026, 11, 24, 3, tzinfo=UTC)  # 22:00 in New York, 03:00 UTC for ben
    decision, _ = route(lead(country="US", company={"employees": 5000}), cfg, RoutingState(), night)
    assert decision.rep_id == "fb"
    assert {skip.reason for skip in decision.explanation.skipped} == {"outside_working_hours"}


def test_sla_due_uses_team_override_and_business_hours() -> None:
    data = config_data()
    data["sla"]["business_hours"] = {
        "start": "09:00",
        "end": "17:00",
        "days": ["mon", "tue", "wed", "thu", "fri"],
    }
    data["teams"][0]["sla"] = {"accept_within": "2h"}
    friday_4pm = datetime(2026, 11, 27, 16, tzinfo=UTC)
    decision, _ = route(lead(country="DE"), validate_config(data), RoutingState(), friday_4pm)
    assert decision.sla_due_at == datetime(2026, 11, 30, 10, tzinfo=UTC)
    assert decision.sla_due_at.tzinfo == UTC


def test_explanation_lists_candidates_and_reads_as_a_sentence() -> None:
    decision, _ = route(lead(country="DE"), config(), RoutingState(), NOW)
    explained = decision.explanation.to_dict()
    assert explained["rule_id"] == "dach"
    assert explained["strategy"] == "weighted_round_robin"
    assert explained["candidates"] == ["ana", "ben", "fb"] or explained["candidates"] == ["ana", "ben"]
    assert explained["skipped"] == []
    assert "rule dach matched" in explained["summary"]


def test_skipped_rep_keeps_their_place() -> None:
    _, state = route_many(1, country="DE")  # ana
    away = replace(state, availability={"ana": Availability(False)})
    decisions, back = route_many(2, state=away, country="DE")  # ben, ben
    assert [d.rep_id for d in decisions] == ["ben", "ben"]
    returned = replace(back, availability={})
    after, _ = route_many(4, state=returned, country="DE")
    assert Counter(d.rep_id for d in after) == {"ana": 3, "ben": 1}


def test_new_state_counts_the_assignment() -> None:
    (decision,), state = route_many(1, country="DE")
    assert state.load[decision.rep_id] == RepLoad(open=1, day=NOW.date(), today=1)
