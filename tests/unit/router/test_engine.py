"""The routing decision: accounts, rules, strategies, skips, fallback, queue, explanation."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from handoff_router.routing.config import RoutingConfig, validate_config
from handoff_router.routing.engine import Availability, Decision, RepLoad, RoutingState, Skip, route

from tests.unit.router.sample import config, config_data, lead

NOW = datetime(2026, 11, 24, 14, tzinfo=UTC)  # a Tuesday


def route_many(
    count: int, cfg: RoutingConfig | None = None, state: RoutingState | None = None, **fields: Any
) -> tuple[list[Decision], RoutingState]:
    cfg = cfg or config()
    state = state or RoutingState()
    decisions: list[Decision] = []
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
    assert explained["candidates"] == ["ana", "ben"]  # the matched team's members, not the fallback
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
    assert decision.rep_id is not None
    assert state.load[decision.rep_id] == RepLoad(open=1, day=NOW.date(), today=1)


BUSINESS_HOURS = {"start": "09:00", "end": "17:00", "days": ["mon", "tue", "wed", "thu", "fri"]}


def test_company_domain_wins_over_the_email_domain() -> None:
    decision, _ = route(
        {"lead_id": "x", "email": "pat@acme.io", "country": "FR", "company": {"domain": "other.com"}},
        config(),
        RoutingState(),
        NOW,
    )
    assert decision.rep_id == "cy"


def test_empty_company_domain_falls_back_to_the_email() -> None:
    decision, _ = route(lead(email="pat@ACME.io", company={"domain": " "}), config(), RoutingState(), NOW)
    assert decision.explanation.matched_by == "named_account"


def test_account_owner_outside_working_hours_falls_through_to_the_rules() -> None:
    data = config_data()
    data["sla"]["business_hours"] = BUSINESS_HOURS
    data["teams"][0]["working_hours_only"] = True  # dach: ben's first team
    night = datetime(2026, 11, 24, 23, tzinfo=UTC)
    decision, _ = route(
        lead(country="FR", company={"domain": "acme.io"}), validate_config(data), RoutingState(), night
    )
    assert decision.rep_id == "cy"
    assert decision.explanation.skipped == (Skip("ben", "outside_working_hours"),)


def test_account_owner_at_cap_is_a_candidate_skipped_and_named_in_the_summary() -> None:
    state = RoutingState(load={"ben": RepLoad(open=1)})
    data = config_data()
    data["reps"][1]["max_open"] = 1
    decision, _ = route(lead(country="DE", company={"domain": "acme.io"}), validate_config(data), state, NOW)
    explanation = decision.explanation
    assert decision.rep_id == "ana"
    assert explanation.matched_by == "rule"
    assert explanation.candidates[0] == "ben"
    assert Skip("ben", "at_max_open") in explanation.skipped
    assert explanation.summary.startswith("named account acme.io: owner ben skipped (at_max_open); rule dach")


def test_account_team_is_the_accounts_own_when_given() -> None:
    data = config_data()
    data["accounts"][0]["team"] = "us"
    data["teams"][2]["sla"] = {"accept_within": "1h"}
    decision, _ = route(lead(company={"domain": "acme.io"}), validate_config(data), RoutingState(), NOW)
    assert (decision.rep_id, decision.team_id) == ("ben", "us")
    assert decision.sla_due_at == NOW + timedelta(hours=1)


def test_account_owner_in_no_team_works_for_the_fallback_team() -> None:
    data = config_data()
    data["reps"].append(rep_data := {**data["reps"][0], "id": "solo"})
    data["accounts"][0]["owner"] = rep_data["id"]
    decision, _ = route(lead(company={"domain": "acme.io"}), validate_config(data), RoutingState(), NOW)
    assert (decision.rep_id, decision.team_id) == ("solo", "overflow")


def test_named_account_leaves_the_rotation_alone() -> None:
    _, state = route(lead(company={"domain": "acme.io"}), config(), RoutingState(), NOW)
    assert state.rotation == {}
    assert state.load["ben"].open == 1


def test_queued_decision_names_the_rule_and_every_team_tried() -> None:
    state = RoutingState(availability={"cy": Availability(False), "fb": Availability(False)})
    decision, _ = route(lead(country="FR"), config(), state, NOW)
    assert decision.rep_id is None
    assert (decision.rule_id, decision.team_id) == ("france", None)
    assert decision.explanation.teams_tried == ("fr", "overflow")
    assert decision.explanation.strategy is None
    assert decision.explanation.summary == (
        "rule france matched; nobody in team fr can take it; nobody in team overflow can take it; "
        "it waits in the unassigned queue; skipped cy (unavailable), fb (unavailable)"
    )


def test_queued_without_a_rule_says_fallback() -> None:
    state = RoutingState(availability={"fb": Availability(False)})
    decision, _ = route(lead(country="BR"), config(), state, NOW)
    assert (decision.rep_id, decision.rule_id) == (None, "fallback")
    assert decision.explanation.teams_tried == ("overflow",)


def test_explanation_as_json_has_the_contract_keys_and_the_path() -> None:
    state = RoutingState(load={"cy": RepLoad(open=1)})
    decision, _ = route(lead(country="FR"), config(), state, NOW)
    assert decision.explanation.to_dict() == {
        "rule_id": "france",
        "strategy": "round_robin",
        "candidates": ["cy", "fb"],
        "skipped": [{"rep_id": "cy", "reason": "at_max_open"}],
        "matched_by": "fallback",
        "teams_tried": ["fr", "overflow"],
        "summary": "rule france matched; nobody in team fr can take it; "
        "so fallback team overflow (round_robin) chose fb; skipped cy (at_max_open)",
    }


def test_sla_due_counts_business_hours_in_the_reps_timezone() -> None:
    data = config_data()
    data["sla"]["business_hours"] = BUSINESS_HOURS
    afternoon_in_new_york = datetime(2026, 11, 24, 21, tzinfo=UTC)  # Tuesday 16:00 there
    decision, _ = route(
        lead(country="US", company={"employees": 5000}),
        validate_config(data),
        RoutingState(),
        afternoon_in_new_york,
    )
    assert decision.rep_id == "dee"
    assert decision.sla_due_at == datetime(2026, 11, 25, 17, tzinfo=UTC)  # Wednesday 12:00 in New York


def test_sla_due_without_business_hours_is_plain_time() -> None:
    decision, _ = route(lead(country="DE"), config(), RoutingState(), NOW)
    assert decision.sla_due_at == NOW + timedelta(hours=4)


def test_todays_count_starts_again_on_a_new_local_day() -> None:
    state = RoutingState(load={"ana": RepLoad(open=2, day=NOW.date() - timedelta(days=1), today=9)})
    _, state = route(lead(country="DE"), config(), state, NOW)
    assert state.load["ana"] == RepLoad(open=3, day=NOW.date(), today=1)


def test_a_rep_who_left_the_team_leaves_its_rotation() -> None:
    state = RoutingState(rotation={"dach": {"ana": 1, "gone": 5, "ben": -6}})
    _, state = route(lead(country="DE"), config(), state, NOW)
    assert set(state.rotation["dach"]) == {"ana", "ben"}


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        route(lead(), config(), RoutingState(), datetime(2026, 11, 24, 14))  # noqa: DTZ001


def test_inactive_comes_before_every_other_reason() -> None:
    data = config_data()
    data["reps"][2]["active"] = False
    state = RoutingState(availability={"cy": Availability(False)}, load={"cy": RepLoad(open=5)})
    decision, _ = route(lead(country="FR"), validate_config(data), state, NOW, exclude=frozenset({"cy"}))
    assert Skip("cy", "inactive") in decision.explanation.skipped


def test_availability_until_the_future_is_still_away() -> None:
    state = RoutingState(availability={"cy": Availability(False, until=NOW + timedelta(seconds=1))})
    decision, _ = route(lead(country="FR"), config(), state, NOW)
    assert Skip("cy", "unavailable") in decision.explanation.skipped
