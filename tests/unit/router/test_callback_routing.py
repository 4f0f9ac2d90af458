"""Routing skips reps whose callback endpoint is unreachable; config-time URL problems; who is called back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from handoff_router.callbacks.recipients import for_escalation
from handoff_router.callbacks.service import config_url_problems
from handoff_router.routing.config import RoutingConfig
from handoff_router.routing.engine import RoutingState, route
from handoff_router.settings import RouterSettings
from handoff_shared.cloudevents import new_event
from handoff_shared.events import LeadEscalated
from hypothesis import given
from hypothesis import strategies as st

from tests.unit.router.sample import config, config_data, lead, rep

NOW = datetime(2026, 11, 24, 14, tzinfo=UTC)


def test_an_unreachable_rep_is_skipped_with_the_reason_and_keeps_their_turn() -> None:
    state = RoutingState(unreachable=frozenset({"ana"}))
    decision, _ = route(lead(country="DE"), config(), state, NOW)
    assert decision.rep_id == "ben"
    assert ("ana", "callback_unreachable") in {(s.rep_id, s.reason) for s in decision.explanation.skipped}


def test_a_team_may_keep_routing_to_unreachable_reps() -> None:
    data = config_data()
    data["teams"][0]["skip_unreachable"] = False
    decision, _ = route(lead(country="DE"), config(**data), RoutingState(unreachable=frozenset({"ana"})), NOW)
    assert decision.rep_id == "ana"


def test_when_everyone_is_unreachable_the_lead_waits() -> None:
    everyone = frozenset({"ana", "ben", "cy", "dee", "fb"})
    decision, _ = route(lead(country="DE"), config(), RoutingState(unreachable=everyone), NOW)
    assert decision.rep_id is None


@given(
    st.lists(st.sampled_from(["DE", "FR", "US", "BR"]), max_size=40),
    st.sets(st.sampled_from(["ana", "ben", "cy", "fb"])),
)
def test_an_unreachable_rep_is_never_chosen_by_a_team_that_skips(
    countries: list[str], down: set[str]
) -> None:
    state = RoutingState(unreachable=frozenset(down))
    for index, country in enumerate(countries):
        decision, state = route(lead(f"l{index}", country=country), config(), state, NOW)
        assert decision.rep_id not in down


def test_unreachable_after_defaults_to_15_minutes_and_is_configurable() -> None:
    assert config().unreachable_after == timedelta(minutes=15)
    assert config(callbacks={"unreachable_after": "2h"}).unreachable_after == timedelta(hours=2)


def test_config_time_url_problems_carry_their_paths_unless_private_is_allowed() -> None:
    data = config_data()
    data["reps"][1] = rep("ben", callback_url="http://127.0.0.1:9000/hook")
    data["managers"][0]["callback_url"] = "http://10.0.0.8/hook"
    checked = RoutingConfig.model_validate(data)
    refused = config_url_problems(checked, RouterSettings(database_url="postgresql+asyncpg://x/y"))
    assert {problem.path for problem in refused} == {"reps[1].callback_url", "managers[0].callback_url"}
    allowed = RouterSettings(database_url="postgresql+asyncpg://x/y", callback_allow_private=True)
    assert config_url_problems(checked, allowed) == []


def _escalation(level: str, manager_id: str | None) -> tuple[object, LeadEscalated]:
    data = LeadEscalated(
        assignment_id="a1", lead_id="l1", rep_id="ana", level=level, sla_due_at=NOW,
        overdue_seconds=60, manager_id=manager_id,
    )  # fmt: skip
    return new_event("lead.escalated", "tests", "l1", data, time=NOW), data


def test_a_reminder_goes_to_the_rep_and_an_escalation_to_the_manager() -> None:
    cfg = config(reps=[rep("ana", manager="mgr"), rep("ben"), rep("cy"), rep("dee"), rep("fb")])
    event, data = _escalation("remind", None)
    remind = for_escalation(cfg, event, data, NOW)  # type: ignore[arg-type]
    assert remind is not None
    assert (remind.kind, remind.owner_id, remind.url) == ("rep", "ana", "https://tools.example.com/ana")
    for level in ("escalate", "reassign"):
        event, data = _escalation(level, None)
        call = for_escalation(cfg, event, data, NOW)  # type: ignore[arg-type]
        assert call is not None
        assert (call.kind, call.owner_id, call.url) == ("manager", "mgr", "https://tools.example.com/mgr")


def test_an_escalation_without_a_manager_is_written_failed_with_no_recipient() -> None:
    event, data = _escalation("escalate", None)
    call = for_escalation(config(), event, data, NOW)  # type: ignore[arg-type]
    assert call is not None
    assert (call.kind, call.owner_id, call.url, call.failure_reason) == (
        "manager",
        "_none",
        None,
        "no_recipient",
    )
    assert call.event_id == event.id  # type: ignore[attr-defined]
