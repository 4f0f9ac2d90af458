"""Routing configuration: refused whole, every problem listed with its path."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
import yaml
from handoff_router.routing.config import (
    DEFAULT_DISQUALIFICATION_REASONS,
    ConfigInvalid,
    parse_config,
    validate_config,
)
from pydantic import ValidationError

from tests.unit.router.sample import config, config_data


def problems_of(data: object) -> dict[str, str]:
    with pytest.raises(ConfigInvalid) as caught:
        validate_config(data)
    return {problem.path: problem.message for problem in caught.value.problems}


def test_sample_config_of_the_demo_is_valid() -> None:
    with open("deploy/local/sample-routing.yaml") as file:
        parsed = parse_config(file.read())
    assert parsed.fallback_team == "overflow"
    assert parsed.rejection_reasons[-1] == "other"
    assert parsed.disqualification_reasons == list(DEFAULT_DISQUALIFICATION_REASONS)


def test_yaml_and_json_give_the_same_config() -> None:
    data = config_data()
    assert parse_config(yaml.safe_dump(data)) == parse_config(json.dumps(data))


def test_stored_form_reads_back_unchanged() -> None:
    original = config()
    assert validate_config(original.model_dump(mode="json", exclude_none=True)) == original


def test_every_problem_is_listed_at_once() -> None:
    data = config_data()
    data["teams"][0]["members"].append("ghost")
    data["teams"][1]["strategy"] = "coin_flip"
    data["rules"][0]["team"] = "nowhere"
    data["rules"][1]["when"] = {}
    data["rules"][2]["when"] = {"score": {"like": 3}}
    data["sla"]["accept_within"] = "soon"
    data["reps"][0]["timezone"] = "Mars/Olympus"
    data["reps"][1]["wieght"] = 2
    data["reps"].append(dict(data["reps"][2]))

    found = problems_of(data)

    assert found["teams[0].members[2]"] == "unknown rep 'ghost'"
    assert "round_robin" in found["teams[1].strategy"]
    assert found["rules[0].team"] == "unknown team 'nowhere'"
    assert found["rules[1].when"] == "a rule needs at least one condition"
    assert "unknown operator 'like'" in found["rules[2].when.score.like"]
    assert "not a duration" in found["sla.accept_within"]
    assert "unknown timezone" in found["reps[0].timezone"]
    assert "unknown key" in found["reps[1].wieght"]
    assert found["reps[5].id"] == "duplicate id 'cy'"


@pytest.mark.parametrize(
    ("change", "path", "message"),
    [
        (lambda d: d.update(fallback_team="nope"), "fallback_team", "unknown team 'nope'"),
        (lambda d: d["reps"][4].update(active=False), "fallback_team", "unreachable fallback"),
        (lambda d: d["reps"][0].update(manager="boss"), "reps[0].manager", "unknown manager 'boss'"),
        (lambda d: d["accounts"][0].update(owner="zed"), "accounts[0].owner", "unknown rep 'zed'"),
        (
            lambda d: d["accounts"].append({"domain": "ACME.io", "owner": "ana"}),
            "accounts[1].domain",
            "duplicate",
        ),
        (lambda d: d["teams"].append(dict(d["teams"][0])), "teams[4].id", "duplicate id 'dach'"),
        (lambda d: d["teams"][0].update(members=[]), "teams[0].members", "at least 1"),
        (lambda d: d["reps"][0].update(weight=0), "reps[0].weight", "greater than or equal to 1"),
        (lambda d: d["reps"][0].update(max_open=-1), "reps[0].max_open", "greater than or equal to 0"),
        (lambda d: d["reps"][0].update(email="not-an-email"), "reps[0].email", "not an email"),
        (lambda d: d["reps"][0].update(callback_url="ftp://x"), "reps[0].callback_url", "http(s) URL"),
        (
            lambda d: d["sla"].update(ladder=[{"at": "half", "action": "remind"}]),
            "sla.ladder[0].at",
            "percentage",
        ),
        (
            lambda d: d["sla"].update(ladder=[{"at": "50%", "action": "yell"}]),
            "sla.ladder[0].action",
            "remind",
        ),
        (
            lambda d: d["sla"].update(business_hours={"start": "17:00", "end": "09:00", "days": ["mon"]}),
            "sla.business_hours",
            "must come before",
        ),
        (
            lambda d: d["sla"].update(business_hours={"start": "9am", "end": "17:00", "days": ["mon"]}),
            "sla.business_hours.start",
            "HH:MM",
        ),
        (
            lambda d: d["sla"].update(business_hours={"start": "09:00", "end": "17:00", "days": ["funday"]}),
            "sla.business_hours.days[0]",
            "mon",
        ),
        (lambda d: d["rules"][0].update(when={"country": []}), "rules[0].when.country", "matches nothing"),
        (
            lambda d: d["rules"][0].update(when={"score": {"gte": "high"}}),
            "rules[0].when.score.gte",
            "number",
        ),
        (
            lambda d: d["rules"][0].update(when={"country": {"not": {"in": "DE"}}}),
            "rules[0].when.country.not.in",
            "list",
        ),
        (
            lambda d: d["teams"][2].update(sla={"accept_within": "0s"}),
            "teams[2].sla.accept_within",
            "longer than",
        ),
        (lambda d: d.update(rejection_reasons=["spam", "spam"]), "rejection_reasons[1]", "duplicate reason"),
        (lambda d: d.update(rejection_reasons=["Not ICP"]), "rejection_reasons[0]", "not a reason code"),
        (
            lambda d: d.update(disqualification_reasons=["no_budget", "no_need", "no_budget"]),
            "disqualification_reasons[2]",
            "duplicate reason 'no_budget'",
        ),
        (
            lambda d: d.update(disqualification_reasons=["No Budget"]),
            "disqualification_reasons[0]",
            "not a reason code",
        ),
        (lambda d: d.update(disqualification_reasons=[]), "disqualification_reasons", "at least 1"),
        (lambda d: d["reps"][4].update(max_open=0), "fallback_team", "unreachable fallback"),
        (lambda d: d["reps"][4].update(max_per_day=0), "fallback_team", "unreachable fallback"),
        (lambda d: d.pop("fallback_team"), "fallback_team", "Field required"),
        (lambda d: d["rules"].append(dict(d["rules"][0])), "rules[3].id", "duplicate id 'dach'"),
        (
            lambda d: d["managers"].append(dict(d["managers"][0])),
            "managers[1].id",
            "duplicate id 'mgr'",
        ),
        (lambda d: d["teams"][0].update(members=["ana", "ana"]), "teams[0].members[1]", "listed twice"),
        (lambda d: d["accounts"][0].update(team="nope"), "accounts[0].team", "unknown team 'nope'"),
        (lambda d: d["accounts"][0].update(domain="acme"), "accounts[0].domain", "not a domain"),
        (lambda d: d["reps"][0].update(id="ana smith"), "reps[0].id", "not an id"),
        (lambda d: d["reps"][0].update(weight="2"), "reps[0].weight", "valid integer"),
        (lambda d: d["reps"][0].update(max_per_day=-2), "reps[0].max_per_day", "greater than or equal to 0"),
        (lambda d: d["reps"][0].update(active="yes"), "reps[0].active", "valid boolean"),
        (lambda d: d["sla"].update(accept_within="400d"), "sla.accept_within", "longest SLA"),
        (
            lambda d: d["sla"].update(ladder=[{"at": "0%", "action": "remind"}]),
            "sla.ladder[0].at",
            "above 0%",
        ),
        (
            lambda d: d["sla"].update(
                ladder=[{"at": "100%", "action": "escalate"}, {"at": "50%", "action": "remind"}]
            ),
            "sla.ladder[1].at",
            "must come after the step before it",
        ),
        (
            lambda d: d["teams"][1].update(
                sla={"business_hours": {"start": "10:00", "end": "10:00", "days": ["mon"]}}
            ),
            "teams[1].sla.business_hours",
            "must come before",
        ),
        (lambda d: d["rules"][0].update(when="country is DE"), "rules[0].when", "valid dictionary"),
        (lambda d: d["rules"][0].update(when={"country": None}), "rules[0].when.country", "must be a value"),
        (lambda d: d["rules"][0].update(when={"": "DE"}), "rules[0].when", "not a field path"),
        (lambda d: d["rules"][0].update(when={"score": {}}), "rules[0].when.score", "tests nothing"),
        (
            lambda d: d["rules"][0].update(when={"attributes.trial": {"exists": "yes"}}),
            "rules[0].when.attributes.trial.exists",
            "true or false",
        ),
        (
            lambda d: d["rules"][0].update(when={"country": {"eq": ["DE"]}}),
            "rules[0].when.country.eq",
            "string",
        ),
        (lambda d: d["rules"][0].pop("when"), "rules[0].when", "Field required"),
        (lambda d: d["teams"][0].update(strategy="random"), "teams[0].strategy", "least_loaded"),
        (lambda d: d["managers"][0].update(email="bob"), "managers[0].email", "not an email"),
        (lambda d: d["managers"][0].update(callback_url="bob"), "managers[0].callback_url", "http(s) URL"),
        (lambda d: d.update(teams=[]), "teams", "at least 1"),
        (
            lambda d: d["teams"][0].update(working_hours_only=True),
            "teams[0].working_hours_only",
            "working hours are not set",
        ),
        (lambda d: d["sla"].update(acept_within="4h"), "sla.acept_within", "did you mean 'accept_within'?"),
        (
            lambda d: d["sla"].update(holidays=["US", "XX"]),
            "sla.holidays[1]",
            "unknown holiday calendar 'XX'",
        ),
        (lambda d: d["sla"].update(holidays=["DE-ZZ"]), "sla.holidays[0]", "unknown holiday calendar"),
        (lambda d: d["sla"].update(max_reassignments=-1), "sla.max_reassignments", "greater than or equal"),
        (lambda d: d["sla"].update(pause_after_expired="3"), "sla.pause_after_expired", "valid integer"),
        (
            lambda d: d["teams"][0].update(sla={"holidays": ["Narnia"]}),
            "teams[0].sla.holidays[0]",
            "unknown holiday calendar",
        ),
        (
            lambda d: d["teams"][2].update(
                sla={"ladder": [{"at": "100%", "action": "escalate"}, {"at": "90%", "action": "reassign"}]}
            ),
            "teams[2].sla.ladder[1].at",
            "must come after the step before it",
        ),
        (lambda d: d.update(fallback="overflow"), "fallback", "did you mean 'fallback_team'?"),
    ],
)
def test_each_kind_of_problem_is_found_with_its_path(
    change: Callable[[dict[str, Any]], object], path: str, message: str
) -> None:
    data = config_data()
    change(data)

    found = problems_of(data)

    assert path in found, found
    assert message in found[path]


def test_not_yaml_is_refused_with_where() -> None:
    with pytest.raises(ConfigInvalid) as caught:
        parse_config("reps: [unclosed")
    (problem,) = caught.value.problems
    assert "not valid YAML" in problem.message
    assert problem.path.startswith("line ")


def test_a_list_is_not_a_config() -> None:
    assert problems_of([1, 2]) == {"": "the configuration must be a mapping of sla, reps, teams, rules..."}


def test_team_sla_overrides_the_default() -> None:
    data = config_data()
    data["teams"][0]["sla"] = {"accept_within": "2h"}
    parsed = validate_config(data)
    assert parsed.accept_within("dach") == timedelta(hours=2)
    assert parsed.accept_within("fr") == timedelta(hours=4)


def test_a_rule_when_that_is_not_an_object_is_one_problem() -> None:
    data = config_data()
    data["rules"][0]["when"] = ["DE"]
    found = problems_of(data)
    assert list(found) == ["rules[0].when"]


def test_a_config_with_nothing_right_lists_every_section() -> None:
    found = problems_of({"reps": "ana", "teams": {}, "rules": 3})
    assert set(found) == {"reps", "teams", "rules", "fallback_team"}


def test_problems_are_reported_once_each() -> None:
    data = config_data()
    data["teams"][0]["members"] = ["ghost", "ghost"]
    with pytest.raises(ConfigInvalid) as caught:
        validate_config(data)
    problems = caught.value.problems
    assert len(problems) == len(set(problems))
    assert "2 problem(s)" in str(caught.value)


def test_defaults_fill_what_the_contract_leaves_optional() -> None:
    parsed = config()
    ana = parsed.rep("ana")
    assert (ana.active, parsed.rep("ben").weight, ana.max_open, ana.manager) == (True, 1, None, None)
    assert parsed.rejection_reasons == [
        "wrong_persona",
        "bad_contact_data",
        "not_icp",
        "no_intent",
        "existing_customer",
        "duplicate",
        "competitor",
        "student_or_job_seeker",
        "wrong_territory",
        "spam",
        "other",
    ]
    assert [(step.percent, step.action) for step in parsed.sla.ladder] == [
        (50.0, "remind"),
        (100.0, "escalate"),
        (150.0, "reassign"),
    ]
    assert (parsed.sla.holidays, parsed.sla.max_reassignments, parsed.sla.pause_after_expired) == (
        [],
        2,
        None,
    )


def test_sla_terms_apply_the_team_override_in_the_reps_timezone() -> None:
    data = config_data()
    data["sla"].update(
        business_hours={"start": "09:00", "end": "17:00", "days": ["mon", "tue", "wed", "thu", "fri"]},
        holidays=["US"],
        max_reassignments=1,
        pause_after_expired=0,
    )
    data["teams"][2]["sla"] = {
        "accept_within": "2h",
        "holidays": ["DE-BY"],
        "ladder": [{"at": "100%", "action": "escalate"}, {"at": "200%", "action": "reassign"}],
    }
    parsed = validate_config(data)

    us = parsed.sla_terms("us", parsed.rep("dee")).to_dict()
    dach = parsed.sla_terms("dach", parsed.rep("ana")).to_dict()

    assert us == {
        "accept_within_seconds": 7200.0,
        "timezone": "America/New_York",
        "business_hours": {"start": "09:00", "end": "17:00", "days": ["mon", "tue", "wed", "thu", "fri"]},
        "holidays": ["DE-BY"],
        "ladder": [{"percent": 100.0, "action": "escalate"}, {"percent": 200.0, "action": "reassign"}],
        "max_reassignments": 1,
        "pause_after_expired": 0,  # off, carried as 0 so the router never falls back to a newer config
    }
    assert (dach["accept_within_seconds"], dach["holidays"], dach["timezone"]) == (14400.0, ["US"], "UTC")
    assert [step["action"] for step in dach["ladder"]] == ["remind", "escalate", "reassign"]


@pytest.mark.parametrize("setting", [{}, {"pause_after_expired": 0}, {"pause_after_expired": 3}])
def test_sla_terms_always_carry_the_pause_streak_with_0_for_off(setting: dict[str, int]) -> None:
    data = config_data()
    data["sla"].pop("pause_after_expired", None)
    data["sla"].update(setting)
    parsed = validate_config(data)

    terms = parsed.sla_terms("dach", parsed.rep("ana")).to_dict()

    assert terms["pause_after_expired"] == setting.get("pause_after_expired", 0)


def test_a_valid_config_is_frozen() -> None:
    parsed = config()
    with pytest.raises(ValidationError):
        parsed.fallback_team = "dach"  # type: ignore[misc]


def test_business_hours_of_a_team_override_the_default() -> None:
    data = config_data()
    data["sla"]["business_hours"] = {"start": "09:00", "end": "17:00", "days": ["mon"]}
    data["teams"][1]["sla"] = {"business_hours": {"start": "08:00", "end": "12:00", "days": ["sat"]}}
    parsed = validate_config(data)
    dach, fr = parsed.business_hours("dach"), parsed.business_hours("fr")
    assert dach is not None
    assert fr is not None
    assert (dach.start.hour, dach.days) == (9, frozenset({0}))
    assert (fr.start.hour, fr.end.hour, fr.days) == (8, 12, frozenset({5}))
    assert validate_config(config_data()).business_hours("dach") is None


def test_disqualification_reasons_default_to_the_contracts_list() -> None:
    assert config().disqualification_reasons == [
        "no_budget",
        "no_authority",
        "no_need",
        "bad_timing",
        "unresponsive",
        "chose_competitor",
        "other",
    ]
    assert config(disqualification_reasons=["no_budget", "other"]).disqualification_reasons == [
        "no_budget",
        "other",
    ]


def test_duplicate_disqualification_reasons_are_listed_with_every_other_problem() -> None:
    data = config_data(
        disqualification_reasons=["no_budget", "no_budget"], rejection_reasons=["spam", "spam"]
    )
    data["rules"][0]["team"] = "nowhere"
    found = problems_of(data)
    assert found["disqualification_reasons[1]"] == "duplicate reason 'no_budget'"
    assert found["rejection_reasons[1]"] == "duplicate reason 'spam'"
    assert found["rules[0].team"] == "unknown team 'nowhere'"


def test_a_misspelt_disqualification_key_is_named() -> None:
    found = problems_of(config_data(disqualification_reason=["no_budget"]))
    assert "did you mean 'disqualification_reasons'?" in found["disqualification_reason"]


def test_the_demo_sla_team_counts_wall_time_and_the_others_office_hours() -> None:
    with open("deploy/local/sample-routing.yaml") as file:
        parsed = parse_config(file.read())
    demo = parsed.sla_terms("sla-demo", parsed.rep("rep-kim"))
    assert demo.business_hours is None
    assert demo.accept_within.total_seconds() == 20
    for team, rep in [("na-enterprise", "rep-ana"), ("emea", "rep-fay"), ("overflow", "rep-jo")]:
        hours = parsed.sla_terms(team, parsed.rep(rep)).business_hours
        assert hours is not None
        assert (hours.start, hours.end, hours.days) == ("09:00", "17:00", ["mon", "tue", "wed", "thu", "fri"])
