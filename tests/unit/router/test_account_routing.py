"""Routing by account (CONTRACT §11): account rules, owner, cover, stickiness, returning people;
and the rotation's shares stay exact whatever account leads come between (hypothesis)."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any

import pytest
from handoff_router.routing.config import ConfigInvalid, validate_config
from handoff_router.routing.engine import Availability, LeadContext, RoutingState, route
from handoff_router.routing.matching import AccountIndex, AccountRecord, match_account
from hypothesis import given
from hypothesis import strategies as st

from tests.unit.router.sample import config_data, rep

NOW = datetime(2026, 11, 24, 14, tzinfo=UTC)
OWNER_RULE = {
    "id": "owned",
    "when": {"account.status": ["customer", "open_opportunity"]},
    "account_owner": True,
}
CONFIG = validate_config(
    config_data(
        reps=[rep("ana", weight=3), rep("ben"), rep("cy"), rep("own", cover="cov"), rep("cov"), rep("fb")],
        teams=[
            {"id": "dach", "strategy": "weighted_round_robin", "members": ["ana", "ben"]},
            {"id": "ae", "members": ["own", "cov"]},
            {"id": "overflow", "members": ["fb"]},
        ],
        accounts=[],
        rules=[
            OWNER_RULE,
            {
                "id": "gold",
                "when": {"account.tier": "gold", "account.attributes.segment": "smb"},
                "team": "ae",
            },
            {"id": "dach", "when": {"country": ["DE"]}, "team": "dach"},
        ],
    )
)
BOOK = AccountIndex.build(
    [
        AccountRecord("acme", "Acme", ("acme.com",), owner="own", status="customer"),
        AccountRecord("prosp", "Prospect Co", ("prosp.com",), owner="own", status="prospect"),
        AccountRecord("gold", "Gold Co", ("gold.com",), tier="gold", attributes={"segment": "smb"}),
    ]
)


def routed(email: str, state: RoutingState | None = None, **context: Any) -> Any:
    lead = {"lead_id": "l1", "email": email, "country": "DE", "company": {}}
    match = match_account(lead, CONFIG, BOOK)
    decision, _ = route(
        lead, CONFIG, state or RoutingState(), NOW, context=LeadContext(match=match, **context)
    )
    return decision


def test_a_customer_goes_to_the_account_owner_and_the_explanation_names_the_match() -> None:
    decision = routed("pat@acme.com")
    assert (decision.rep_id, decision.rule_id, decision.explanation.matched_by) == (
        "own",
        "owned",
        "account_owner",
    )
    assert decision.explanation.to_dict()["match"]["account_id"] == "acme"


def test_an_owner_who_is_away_sends_the_lead_to_their_cover() -> None:
    decision = routed("pat@acme.com", RoutingState(availability={"own": Availability(False)}))
    assert (decision.rep_id, decision.explanation.matched_by) == ("cov", "cover")
    assert "cov, cover of owner own" in decision.explanation.summary


def test_owner_and_cover_away_the_rules_team_then_the_fallback_takes_it() -> None:
    away = {"own": Availability(False), "cov": Availability(False)}
    decision = routed("pat@acme.com", RoutingState(availability=away))
    assert decision.rep_id == "fb"
    assert [skip.rep_id for skip in decision.explanation.skipped][:2] == ["own", "cov"]


def test_a_prospect_is_routed_by_the_rules() -> None:
    assert routed("pat@prosp.com").rep_id in {"ana", "ben"}


def test_rules_read_the_accounts_tier_and_attributes() -> None:
    assert routed("pat@gold.com").rule_id == "gold"


def test_the_owner_rule_is_three_lines_of_yaml_without_a_team() -> None:
    with pytest.raises(ConfigInvalid):
        validate_config(config_data(rules=[{"id": "x", "when": {"country": "DE"}}]))


def test_a_returning_person_skips_the_reps_who_rejected_them() -> None:
    decision = routed("pat@acme.com", rejected_by=frozenset({"own"}))
    assert decision.rep_id == "cov"
    assert "reps who rejected them are skipped (own)" in decision.explanation.summary


def test_stickiness_sends_the_accounts_next_lead_to_the_rep_who_has_its_open_lead() -> None:
    decision = routed("pat@prosp.com", sticky_rep="cy", sticky_assignment_id="a-1")
    assert (decision.rep_id, decision.explanation.matched_by) == ("cy", "stickiness")
    assert "a-1" in decision.explanation.summary


def test_stickiness_gives_way_when_that_rep_cannot_take_it() -> None:
    decision = routed(
        "pat@prosp.com", RoutingState(availability={"cy": Availability(False)}), sticky_rep="cy"
    )
    assert decision.rep_id in {"ana", "ben"}


def test_explanation_carries_the_identity() -> None:
    decision = routed("pat@prosp.com", person_key="pat@prosp.com")
    assert decision.explanation.to_dict()["identity"] == {
        "person_key": "pat@prosp.com",
        "existing_assignment_id": None,
    }


KINDS = st.lists(st.sampled_from(["rotation", "owner", "cover", "sticky"]), max_size=80)


@given(kinds=KINDS)
def test_account_leads_never_move_the_rotation_so_its_shares_stay_exact(kinds: list[str]) -> None:
    state = RoutingState()
    rotation_picks: Counter[str] = Counter()
    for kind in kinds:
        email = "pat@acme.com" if kind in ("owner", "cover") else "pat@prosp.com"
        availability = {"own": Availability(False)} if kind == "cover" else {}
        state = RoutingState(state.rotation, state.load, availability)
        lead = {"lead_id": "l", "email": email, "country": "DE", "company": {}}
        context = LeadContext(
            match=match_account(lead, CONFIG, BOOK), sticky_rep="cy" if kind == "sticky" else None
        )
        decision, state = route(lead, CONFIG, state, NOW, context=context)
        if kind == "rotation":
            assert decision.explanation.matched_by == "rule"
            rotation_picks[decision.rep_id or ""] += 1
        else:
            assert decision.explanation.matched_by in {"account_owner", "cover", "stickiness"}
    total = sum(rotation_picks.values())
    # weighted 3:1 over the rotation's own leads only, within one lead of the exact share
    assert abs(rotation_picks["ana"] - total * 3 / 4) <= 1
    assert abs(rotation_picks["ben"] - total / 4) <= 1


@given(kinds=KINDS)
def test_the_same_rotation_leads_get_the_same_reps_with_or_without_account_leads_between(
    kinds: list[str],
) -> None:
    def rotation_choices(with_accounts: bool) -> list[str | None]:
        state, chosen = RoutingState(), []
        for kind in kinds:
            if kind != "rotation" and not with_accounts:
                continue
            lead = {
                "lead_id": "l",
                "email": "p@acme.com" if kind != "rotation" else "p@prosp.com",
                "country": "DE",
            }
            decision, state = route(
                lead, CONFIG, state, NOW, context=LeadContext(match=match_account(lead, CONFIG, BOOK))
            )
            if kind == "rotation":
                chosen.append(decision.rep_id)
        return chosen

    assert rotation_choices(True) == rotation_choices(False)
